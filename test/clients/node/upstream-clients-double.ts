/**
 * node:test file, run by ../upstream-clients.test.ts. The upstream clients' documented
 * behaviour (docs/lap-reference.md section 9) against the control-plane TEST DOUBLE
 * (../support/fake-lap-server.ts): the upstream SDK's API as its README, tests and
 * examples use it, run with our SDK (built dist, as installed); `createClaudeStream` with
 * the Claude SDK envelopes its tests script; `foldSdkMessages` as its tests describe it; and
 * the flows of the two upstream CLIs and of `@opencode-ai/sdk` (../support/upstream-flows.ts).
 * The same flows against real local mode: e2e-local-upstream-clients.ts.
 */
import { expect } from 'expect';
import { after, before, mock, test } from 'node:test';
import {
  Agent,
  createClaudeStream,
  foldSdkMessages,
  type ClaudeStreamState,
  type SDKMessage,
} from '@litellm/agent-sdk';
import { startFakeLapServer, type FakeLapServer } from '../support/fake-lap-server.js';
import {
  opencodeSdkFlow,
  platformCliChat,
  sdkRepoCliFlows,
  upstreamLapSmoke,
  upstreamSdkRoundtrip,
  type Platform,
} from '../support/upstream-flows.js';

let lap: FakeLapServer;
let platform: Platform;

before(async () => {
  // Turns long enough that a stream opened just after the message sees them (as real turns are).
  lap = await startFakeLapServer({ bootMs: 200, tokenMs: 60 });
  platform = { url: lap.url, key: lap.masterKey, replyTo: (text) => `echo: ${text}`, bootTimeoutMs: 20_000 };
});
after(() => lap.close());

test('the upstream SDK roundtrip: create (templateId) -> createSession -> send -> events() ends -> getSession', async () => {
  await upstreamSdkRoundtrip(platform);
  const agent = [...lap.agents.values()].find((a) => a.name === 'upstream-roundtrip');
  expect(agent?.received).toMatchObject({ template_id: 'tpl_smoke', prompt: 'be terse' });
});

test('the upstream SDK sends harness_id only when harnessId is given, and rejects a bad key with /401/', async () => {
  const connection = { apiKey: lap.masterKey, baseUrl: lap.url, model: 'm', templateId: 'tpl' };
  const chosen = await Agent.create({ ...connection, harnessId: 'claude-agent-sdk' });
  expect(lap.agents.get(chosen.id)?.received).toMatchObject({ harness_id: 'claude-agent-sdk' });
  const defaulted = await Agent.create(connection);
  expect(lap.agents.get(defaulted.id)?.received).not.toHaveProperty('harness_id');
  await expect(Agent.create({ ...connection, apiKey: 'wrong' })).rejects.toThrow(/401/);
});

test("the upstream SDK's examples/lap-smoke.ts flow completes", async () => {
  const lines = await upstreamLapSmoke(platform);
  expect(lines[1]).toMatch(/status=ready initialResponse=\{"parts":\[\{"type":"text","text":"echo: Reply/);
});

async function provisionSession(): Promise<string> {
  const agent = await Agent.create({
    apiKey: lap.masterKey,
    baseUrl: lap.url,
    model: 'm',
    templateId: 'tpl',
  });
  return (await agent.createSession({ initialPrompt: 'go' })).id;
}

const envelope = (message: Record<string, unknown>) => ({
  type: 'claude_sdk_message',
  properties: { message },
});

test('createClaudeStream unwraps claude_sdk_message envelopes through to session.idle', async () => {
  const sessionId = await provisionSession();
  lap.scriptNextStream([
    envelope({ type: 'system', subtype: 'init', session_id: 'ses_1' }),
    envelope({
      type: 'assistant',
      message: { id: 'msg_api_1', role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
      session_id: 'ses_1',
    }),
    envelope({ type: 'result', subtype: 'success', result: 'Hello!', total_cost_usd: 0.001 }),
    { type: 'session.idle', properties: { sessionID: 'ses_1' } },
  ]);
  const stream = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId });
  await stream.done();
  expect(stream.state().status).toBe('idle');
  expect(stream.state().messages.map((m) => m.type)).toEqual(['system', 'assistant', 'result']);
  // Messages arrive as the Claude SDK sends them: snake_case kept.
  expect(stream.state().messages[0]).toEqual({ type: 'system', subtype: 'init', session_id: 'ses_1' });
});

test('createClaudeStream ignores legacy message.part.* envelopes and turns session.error into an error status', async () => {
  const sessionId = await provisionSession();
  lap.scriptNextStream([
    {
      type: 'message.part.updated',
      properties: { messageID: 'm', part: { id: 'p0', type: 'text', text: 'x' } },
    },
    envelope({ type: 'assistant', message: { id: 'msg_new', role: 'assistant', content: [] } }),
    { type: 'session.idle', properties: { sessionID: 'ses_1' } },
  ]);
  const legacy = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId });
  await legacy.done();
  expect(legacy.state().messages.map((m) => m.type)).toEqual(['assistant']);

  lap.scriptNextStream([
    { type: 'session.error', properties: { sessionID: 'ses_1', message: 'agent crashed' } },
  ]);
  const failed = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId });
  await failed.done();
  expect(failed.state()).toMatchObject({ status: 'error', error: 'agent crashed' });
});

test('createClaudeStream: subscribe sees the current state at once, every change as a new object, and unsubscribes', async () => {
  const sessionId = await provisionSession();
  lap.scriptNextStream([
    envelope({ type: 'system', subtype: 'init' }),
    { type: 'session.idle', properties: { sessionID: 's' } },
  ]);
  const stream = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId });
  const seen: ClaudeStreamState[] = [];
  const late: ClaudeStreamState[] = [];
  const warnings = mock.method(console, 'warn', () => undefined);
  stream.subscribe(() => {
    throw new Error('a broken subscriber');
  });
  const unsubscribe = stream.subscribe((state) => seen.push(state));
  stream.subscribe((state) => late.push(state))();
  expect(seen[0]).toEqual({ status: 'connecting', messages: [] });
  await stream.done();
  unsubscribe();
  warnings.mock.restore();
  expect(warnings.mock.callCount()).toBe(4); // the broken subscriber, once per state; the others still ran
  expect(seen.map((s) => s.status)).toEqual(['connecting', 'streaming', 'streaming', 'idle']);
  expect(new Set(seen).size).toBe(seen.length);
  expect(late).toHaveLength(1);
});

test('createClaudeStream with partial frames folds into one growing assistant message', async () => {
  const sessionId = await provisionSession();
  const frame = (event: Record<string, unknown>) => envelope({ type: 'stream_event', event });
  lap.scriptNextStream([
    frame({ type: 'message_start', message: { id: 'msg_partial', role: 'assistant', content: [] } }),
    frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello ' } }),
    frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'world' } }),
    { type: 'session.idle', properties: { sessionID: 'ses_1' } },
  ]);
  const stream = createClaudeStream({ apiKey: lap.masterKey, baseUrl: lap.url, sessionId });
  await stream.done();
  const folded = foldSdkMessages(stream.state().messages);
  expect(folded).toHaveLength(1);
  expect((folded[0] as { message: { content: { text?: string }[] } }).message.content[0]?.text).toBe(
    'Hello world',
  );
});

// foldSdkMessages, as the upstream SDK's tests describe it (fixtures in the Claude SDK's shapes).
const F = (message: Record<string, unknown>) => message as SDKMessage;
const start = (id: string) =>
  F({
    type: 'stream_event',
    event: { type: 'message_start', message: { id, role: 'assistant', content: [] } },
  });
const blockStart = (index: number, block: Record<string, unknown>) =>
  F({ type: 'stream_event', event: { type: 'content_block_start', index, content_block: block } });
const delta = (index: number, d: Record<string, unknown>) =>
  F({ type: 'stream_event', event: { type: 'content_block_delta', index, delta: d } });

test('foldSdkMessages passes user, system and result messages and authoritative assistants through', () => {
  const out = foldSdkMessages([
    F({ type: 'system', subtype: 'init', session_id: 'ses_1' }),
    F({ type: 'user', message: { role: 'user', content: 'hi' } }),
    F({ type: 'result', subtype: 'success', result: 'done', total_cost_usd: 0.01 }),
    F({
      type: 'assistant',
      message: { id: 'a', role: 'assistant', content: [{ type: 'text', text: 'complete' }] },
    }),
  ]);
  expect(out.map((m) => m.type)).toEqual(['system', 'user', 'result', 'assistant']);
  expect((out[3] as { message: { content: { text?: string }[] } }).message.content[0]?.text).toBe('complete');
});

test('foldSdkMessages grows text, thinking and tool input from deltas, and the snapshot overlays the partial', () => {
  const partial = foldSdkMessages([
    start('msg_z'),
    blockStart(0, { type: 'text', text: '' }),
    delta(0, { type: 'text_delta', text: 'Running...' }),
    blockStart(1, { type: 'tool_use', id: 'tu_z', name: 'Read', input: {} }),
    delta(1, { type: 'input_json_delta', partial_json: '{"path":' }),
    delta(1, { type: 'input_json_delta', partial_json: '"x.py"}' }),
    blockStart(2, { type: 'thinking', thinking: '' }),
    delta(2, { type: 'thinking_delta', thinking: 'Let me ' }),
    delta(2, { type: 'thinking_delta', thinking: 'check.' }),
  ]);
  expect(partial).toHaveLength(1);
  expect(partial[0]).toMatchObject({
    type: 'assistant',
    message: {
      content: [
        { type: 'text', text: 'Running...' },
        { type: 'tool_use', id: 'tu_z', name: 'Read', input_partial_json: '{"path":"x.py"}' },
        { type: 'thinking', thinking: 'Let me check.' },
      ],
    },
  });

  const overlaid = foldSdkMessages([
    start('msg_x'),
    blockStart(0, { type: 'text', text: '' }),
    delta(0, { type: 'text_delta', text: 'partial' }),
    F({
      type: 'assistant',
      message: { id: 'msg_x', role: 'assistant', content: [{ type: 'text', text: 'final' }] },
    }),
  ]);
  expect(overlaid).toHaveLength(1);
  expect((overlaid[0] as { message: { content: { text?: string }[] } }).message.content[0]?.text).toBe(
    'final',
  );
});

test('foldSdkMessages does not modify its input', () => {
  const stream = [
    start('m'),
    blockStart(0, { type: 'text', text: '' }),
    delta(0, { type: 'text_delta', text: 'a' }),
  ];
  const before = JSON.stringify(stream);
  foldSdkMessages(stream);
  foldSdkMessages(stream);
  expect(JSON.stringify(stream)).toBe(before);
});

test("the SDK repository's CLI: camelCase keys ignored, template_id read, blocking and streamed turns, ps, rm", async () => {
  await sdkRepoCliFlows(platform);
  const session = [...lap.sessions.values()].find((s) => s.title === 'sdk cli');
  expect(session?.received).toEqual({ initialPrompt: 'ignored by the API', title: 'sdk cli' });
  expect(session?.response).toMatchObject({ parts: [{ text: 'echo: streamed turn' }] });
});

test("the upstream platform's CLI chat: supports_tui, harness_session_id, messages through /opencode", async () => {
  await Agent.create({ apiKey: lap.masterKey, baseUrl: lap.url, model: 'm', name: 'platform-cli-agent' });
  await platformCliChat(platform, 'platform-cli-agent');
  expect(lap.requests.some((r) => /\/opencode\/session\/ses_[0-9a-f]+\/message$/.test(r))).toBe(true);
});

test('@opencode-ai/sdk against /sessions/:id/opencode: list, event bus, promptAsync until idle, prompt, messages', async () => {
  const agent = await Agent.create({ apiKey: lap.masterKey, baseUrl: lap.url, model: 'm' });
  await opencodeSdkFlow(platform, agent.id);
});
