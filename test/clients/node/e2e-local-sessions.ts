/**
 * node:test file, run by ../e2e-local-sessions.test.ts. End to end against REAL local mode
 * (platform/src/local/main.ts: embedded PostgreSQL, API, worker, local launcher running
 * the real vault and harness), with the harness's LLM gateway pointed at a fake
 * OpenAI/Anthropic-compatible server (LITELLM_API_BASE). Real sessions: the SDK (create,
 * send, watch events, stop), the `lap` REPL and a TUI session through the platform's /tty
 * route in a real pseudo-terminal, all as users run them (built dist/), and the upstream
 * platform CLI's way of attaching. The upstream clients' flows and
 * the seed example are in e2e-local-upstream-clients.ts.
 */
import { expect } from 'expect';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, Session, type WatchedEvent } from '@litellm/agent-sdk';
import { WebSocket } from 'ws';
import { CliTerminal, runLap } from '../support/cli-terminal.js';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway.js';
import { installFakeTuiPrograms } from '../support/fake-tui-program.js';
import { startLocalPlatform, type LocalPlatform } from '../support/local-platform.js';
import { waitUntil } from '../support/loopback.js';

const BOOT_TIMEOUT_MS = 180_000;

let llm: FakeLlmGateway;
let lap: LocalPlatform;
let connection: { apiKey: string; baseUrl: string };
let home: string;

before(async () => {
  llm = await startFakeLlmGateway();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-e2e-home-'));
  // TUI sandboxes run `claude`/`codex` from PATH: a fake program stands in for them.
  const fakeTuiBin = installFakeTuiPrograms(home);
  lap = await startLocalPlatform({
    litellmApiBase: llm.url,
    env: { PATH: `${fakeTuiBin}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  connection = { apiKey: lap.masterKey, baseUrl: lap.url };
});

after(async () => {
  await lap?.stop();
  await llm?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('SDK: a session boots, answers through the real harness, streams events and stops', async () => {
  const agent = await Agent.create({ ...connection, name: 'e2e-sdk', model: 'openai/fake-model' });
  const phases = new Set<string>();
  const session = await agent
    .createSession({
      initialPrompt: 'hello from the SDK',
      timeoutMs: BOOT_TIMEOUT_MS,
      onProgress: (s) => phases.add(String(s.phase)),
    })
    .catch((error: unknown) => {
      throw new Error(`${String(error)}\n${lap.diagnostics()}`);
    });
  expect(session.status).toBe('ready');
  expect(phases.has('ready')).toBe(true);
  expect(phases.size).toBeGreaterThan(1);

  const reply = await session.send('What is in the routes file?');
  expect(reply.text).toContain('fake-llm: What is in the routes file?');
  expect(reply.parts.some((p) => p.type === 'text')).toBe(true);

  const events: WatchedEvent[] = [];
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const reading = (async () => {
    for await (const event of session.watch({ onOpen: opened })) events.push(event);
  })();
  await open;
  const streamed = await session.send('stream this please');
  expect(streamed.text).toContain('fake-llm: stream this please');
  await waitUntil(() => events.some((e) => e.type === 'turn_done'), 30_000);
  const tokens = events.filter((e) => e.type === 'token');
  expect(tokens.map((t) => t.text).join('')).toContain('fake-llm: stream this please');
  expect(events.every((e) => typeof e.id === 'string')).toBe(true);

  await session.stop();
  expect(session.status).toBe('dead');
  await reading; // the iterator ends on its own once the session is dead
  expect((await Session.get(connection, session.id)).status).toBe('dead');
  expect(llm.requests.some((r) => /chat\/completions|messages/.test(r.path))).toBe(true);
});

test('lap CLI against local mode in a pseudo-terminal: run, REPL (/id, /stream on, /quit), ps, sessions rm', async () => {
  const env = { HOME: home, LAP_BASE_URL: lap.url, LAP_API_KEY: lap.masterKey };
  await runLap(['agents', 'create', '--model', 'openai/fake-model', '--name', 'e2e-cli-run'], env);
  const terminal = new CliTerminal(['run', 'e2e-cli-run', '--prompt', 'Review the auth module'], env);
  try {
    const sessionId = (await terminal.waitFor(/✓ session ([0-9a-f-]{36})/))[1];
    await terminal.waitFor(/sandbox ready in \d+\.\ds/, BOOT_TIMEOUT_MS);
    await terminal.waitFor('fake-llm: Review the auth module', 60_000);
    await terminal.waitFor('\n> ');
    let mark = terminal.text.length;
    terminal.write('/id\r');
    await terminal.waitFor(`\n${sessionId}\n`, 5_000, mark);
    mark = terminal.text.length;
    terminal.write('/stream on\r');
    await terminal.waitFor('streaming on', 5_000, mark);
    terminal.write('tokens please\r');
    await terminal.waitFor('fake-llm: tokens please', 60_000, mark);
    await terminal.waitFor('\n> ', 10_000, mark);
    terminal.write('/quit\r');
    expect(await terminal.exitCode()).toBe(0);
    expect(terminal.text).toContain(`session ${sessionId} left running`);

    const ps = await runLap(['ps'], env);
    expect(ps.text).toMatch(new RegExp(`^${sessionId}\\s+e2e-cli-run\\s+ready\\s+\\d+[smh]`, 'm'));
    const removed = await runLap(['sessions', 'rm', sessionId], env);
    expect(removed.text).toContain(`✓ session ${sessionId} terminated`);
    expect((await Session.get(connection, sessionId)).status).toBe('dead');
  } finally {
    terminal.kill();
  }
});

test('lap CLI against local mode: a TUI harness session in raw mode through the platform /tty route (keys, resize, detach, attach), and as the upstream CLI attaches', async () => {
  const env = { HOME: home, LAP_BASE_URL: lap.url, LAP_API_KEY: lap.masterKey };
  await runLap(
    ['agents', 'create', '--model', 'openai/fake-model', '--name', 'e2e-tui', '--harness', 'claude-code'],
    env,
  );
  const terminal = new CliTerminal(['run', 'e2e-tui'], env, { cols: 100, rows: 30 });
  const sessionId = await terminal
    .waitFor(/✓ session ([0-9a-f-]{36})/)
    .then((match) => match[1])
    .catch((error: unknown) => {
      terminal.kill();
      throw error;
    });
  try {
    await terminal.waitFor('fake tui ready', BOOT_TIMEOUT_MS);
    await terminal.waitFor('size: 30 100', 10_000); // the CLI's first resize frame
    terminal.write('hello tty\r');
    await terminal.waitFor('tui got: hello tty', 10_000);
    terminal.resize(90, 20);
    await terminal.waitFor('size: 20 90', 10_000);
    terminal.write('\x1d');
    expect(await terminal.exitCode()).toBe(0);
    expect(terminal.text).toContain(`detached; session ${sessionId} keeps running`);
  } finally {
    terminal.kill();
  }

  // The terminal is the platform's route on its public port; the sandbox's address is not shown.
  const session = await Session.get(connection, sessionId);
  expect(session.ttyUrl).toBe(
    `${lap.url.replace(/^http/, 'ws')}/api/v1/managed_agents/sessions/${sessionId}/tty`,
  );
  expect(session.sandboxUrl).toBeUndefined();
  expect(session.taskArn).toBeNull();
  const attachedThroughPlatform = () =>
    lap
      .logs()
      .split('\n')
      .filter((line) => line.includes('"terminal attached"') && line.includes(sessionId)).length;
  expect(attachedThroughPlatform()).toBe(1);

  const attached = new CliTerminal(['sessions', 'attach', sessionId], env);
  try {
    await attached.waitFor(`✓ attached to session ${sessionId}`);
    await attached.waitFor('tui got: hello tty', 10_000); // the PTY's scrollback, replayed
    attached.write('\x1d');
    expect(await attached.exitCode()).toBe(0);
  } finally {
    attached.kill();
  }
  expect(attachedThroughPlatform()).toBe(2);

  // The upstream platform CLI (cli/bin/lap.mjs attachPty): tty_url as given, the tty_token as
  // ?token= and as a Bearer header, no master key.
  const raw = (await (
    await fetch(`${lap.url}/api/v1/managed_agents/sessions/${sessionId}`, {
      headers: { authorization: `Bearer ${lap.masterKey}` },
    })
  ).json()) as { tty_url: string; tty_token: string; sandbox_url: null };
  expect(raw.sandbox_url).toBeNull();
  const upstream = new WebSocket(`${raw.tty_url}?token=${encodeURIComponent(raw.tty_token)}`, {
    headers: { authorization: `Bearer ${raw.tty_token}` },
  });
  let screen = '';
  upstream.on('message', (data: Buffer) => (screen += data.toString()));
  await waitUntil(() => screen.includes('tui got: hello tty'), 10_000);
  upstream.send(Buffer.from('from upstream\r'));
  await waitUntil(() => screen.includes('tui got: from upstream'), 10_000);
  upstream.close();

  expect((await runLap(['sessions', 'rm', sessionId], env)).text).toContain(
    `✓ session ${sessionId} terminated`,
  );
});
