/**
 * node:test file, run by ../e2e-local-upstream-clients.test.ts. The upstream clients and
 * the seed 000 example against REAL local mode (embedded PostgreSQL, API, worker, real
 * vault and opencode harness; the harness's gateway is test/support/fake-llm-gateway.ts):
 * the README example run unchanged must exit, the upstream SDK's roundtrip and lap-smoke
 * flows, the SDK repository's CLI, the upstream platform's CLI chat through the opencode
 * passthrough, `@opencode-ai/sdk`, and our SDK's events()/createClaudeStream lifecycles.
 * The same flows against the test double: upstream-clients-double.ts.
 */
import { expect } from 'expect';
import { after, before, test } from 'node:test';
import { Agent, Session, createClaudeStream, foldSdkMessages, type SessionEvent } from '@litellm/agent-sdk';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway.js';
import { startLocalPlatform, type LocalPlatform } from '../support/local-platform.js';
import { waitUntil } from '../support/loopback.js';
import { ReadmeExampleRun } from '../support/readme-example.js';
import {
  opencodeSdkFlow,
  platformCliChat,
  sdkRepoCliFlows,
  upstreamLapSmoke,
  upstreamSdkRoundtrip,
  type Platform,
} from '../support/upstream-flows.js';

const BOOT_TIMEOUT_MS = 180_000;
/** The README example: boot, the initial prompt, one more turn, the events stream; then it must exit. */
const EXAMPLE_EXIT_BOUND_MS = 240_000;
/** A flow that hangs (a stream that never ends) fails instead of holding the run. */
const FLOW = { timeout: 300_000 };

let llm: FakeLlmGateway;
let lap: LocalPlatform;
let platform: Platform;

before(async () => {
  llm = await startFakeLlmGateway();
  lap = await startLocalPlatform({ litellmApiBase: llm.url });
  platform = {
    url: lap.url,
    key: lap.masterKey,
    replyTo: (text) => `fake-llm: ${text}`,
    bootTimeoutMs: BOOT_TIMEOUT_MS,
  };
});

after(async () => {
  // Flows that failed midway left sessions running: stop their sandboxes before local mode.
  if (lap) {
    const connection = { apiKey: lap.masterKey, baseUrl: lap.url };
    const sessions = await Session.list(connection, { limit: 200 }).catch(() => undefined);
    await Promise.all((sessions?.data ?? []).map((session) => session.delete().catch(() => undefined)));
  }
  await lap?.stop();
  await llm?.close();
});

/** Adds local mode's logs to a failure. */
const withDiagnostics = async <T>(run: () => Promise<T>): Promise<T> =>
  run().catch((error: unknown) => {
    throw new Error(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n${lap.diagnostics()}`,
    );
  });

test('the seed 000 example, as written, runs to completion and exits against local mode', FLOW, async () => {
  const run = new ReadmeExampleRun({ url: lap.url, key: lap.masterKey });
  try {
    expect(await withDiagnostics(() => run.exitWithin(EXAMPLE_EXIT_BOUND_MS))).toBe(0);
    expect(run.output).toMatch(/^ready /m);
    expect(run.output).toMatch(/^done \{ type: 'done' \}\n$/m);
  } finally {
    run.kill();
  }
});

test(
  'events(): ready, the harness events of the running turn, done at idle, then the iterator ends',
  FLOW,
  async () => {
    await withDiagnostics(async () => {
      const agent = await Agent.create({
        apiKey: lap.masterKey,
        baseUrl: lap.url,
        model: 'openai/fake-model',
      });
      const session = await agent.createSession({ timeoutMs: BOOT_TIMEOUT_MS });
      // Opened while the turn runs (a real turn takes far longer than opening the stream).
      const sending = session.send('a turn to watch');
      const events: SessionEvent[] = [];
      for await (const event of session.events()) events.push(event);
      expect((await sending).text).toContain('fake-llm: a turn to watch');
      expect(events[0]).toMatchObject({ type: 'ready' });
      expect(events.at(-1)).toMatchObject({ type: 'done' });
      const harness = events.filter((e) => e.type === 'harness_event').map((e) => e.event);
      expect(harness.map((e) => e.type)).toContain('turn_done');
      const tokens = harness.map((e) => (e.type === 'token' ? e.text : '')).join('');
      expect(tokens).toContain('fake-llm: a turn to watch'); // each piece of text once

      // createClaudeStream follows GET /stream: opened, the next turn, idle (upstream's /stream lifecycle).
      const stream = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId: session.id });
      await waitUntil(() => stream.state().status !== 'connecting', 30_000);
      expect(stream.state().status).toBe('streaming');
      const reply = await session.send('a streamed turn');
      await stream.done();
      expect(stream.state().status).toBe('idle');
      const text = foldSdkMessages(stream.state().messages)
        .flatMap((m) => (m.type === 'assistant' ? m.message.content : []))
        .map((block) => (block.type === 'text' ? String(block.text) : ''))
        .join('');
      expect(text).toContain(reply.text.trim());
      await session.delete();
    });
  },
);

test('the upstream SDK roundtrip against local mode', FLOW, () =>
  withDiagnostics(() => upstreamSdkRoundtrip(platform)),
);

test("the upstream SDK's examples/lap-smoke.ts flow against local mode", FLOW, async () => {
  const lines = await withDiagnostics(() => upstreamLapSmoke(platform));
  expect(lines[1]).toMatch(/status=ready/);
});

test("the SDK repository's CLI flows against local mode", FLOW, () =>
  withDiagnostics(() => sdkRepoCliFlows(platform)),
);

test("the upstream platform's CLI chat against local mode (opencode passthrough)", FLOW, async () => {
  await Agent.create({
    apiKey: lap.masterKey,
    baseUrl: lap.url,
    model: 'openai/fake-model',
    name: 'e2e-platform-cli',
  });
  await withDiagnostics(() => platformCliChat(platform, 'e2e-platform-cli'));
});

test('@opencode-ai/sdk against /sessions/:id/opencode in local mode', FLOW, async () => {
  const agent = await Agent.create({ apiKey: lap.masterKey, baseUrl: lap.url, model: 'openai/fake-model' });
  await withDiagnostics(() => opencodeSdkFlow(platform, agent.id));
});
