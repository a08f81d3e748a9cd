/**
 * The TUI harness: a real PTY (bash standing in for claude-code) behind the harness server,
 * driven by a WebSocket client.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { TtyAdapter } from '@lap/harness/src/adapters/tty';
import { createHarnessServer, type HarnessServer } from '@lap/harness/src/server';

const TOKEN = 'harness-token-0123456789abcdef';
let harness: HarnessServer;
let adapter: TtyAdapter;
let port: number;

beforeAll(async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-tty-'));
  adapter = new TtyAdapter({
    command: 'bash --noprofile --norc',
    cwd,
    env: { PATH: process.env.PATH!, HOME: cwd, PS1: '$ ' },
    logger: pino({ level: 'silent' }),
  });
  harness = createHarnessServer({
    harnessId: 'claude-code',
    token: TOKEN,
    adapter,
    logger: pino({ level: 'silent' }),
  });
  await adapter.start(() => undefined);
  harness.setReady();
  port = await harness.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await adapter.stop();
  await harness.close();
});

/** Connects and collects everything the terminal prints. */
function connect(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers });
  let output = '';
  socket.on('message', (data) => (output += data.toString()));
  return {
    socket,
    opened: new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    output: () => output,
    async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(output.slice(-500))}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return output;
    },
  };
}

it('reports supports_tui on /health', async () => {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  expect(await response.json()).toEqual({
    status: 'ok',
    harness_id: 'claude-code',
    supports_tui: true,
    harness_session_id: null,
    busy: false,
  });
});

it('carries keystrokes into the PTY and its output back (token as ?token=)', async () => {
  const client = connect(`ws://127.0.0.1:${port}/tty?token=${TOKEN}`);
  await client.opened;
  client.socket.send('echo "sum=$((20 + 22))"\r');
  await client.waitFor(/sum=42/);
  client.socket.close();
});

it('resizes the PTY on a resize message (token as bearer)', async () => {
  const client = connect(`ws://127.0.0.1:${port}/tty`, { authorization: `Bearer ${TOKEN}` });
  await client.opened;
  client.socket.send(JSON.stringify({ type: 'resize', cols: 91, rows: 17 }));
  client.socket.send('echo "size=$(stty size)"\r');
  await client.waitFor(/size=17 91/);
  client.socket.send(JSON.stringify({ type: 'resize', cols: 133, rows: 29 }));
  client.socket.send('echo "size=$(stty size)"\r');
  await client.waitFor(/size=29 133/);
  client.socket.close();
});

it('rejects a WebSocket with a bad or missing token with 401', async () => {
  for (const url of [`ws://127.0.0.1:${port}/tty?token=wrong`, `ws://127.0.0.1:${port}/tty`]) {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened without a valid token')));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(401);
  }
});

it('answers /turn on a TUI harness with a clear 409 and protects it with the token', async () => {
  const unauthorized = await fetch(`http://127.0.0.1:${port}/turn`, { method: 'POST', body: '{}' });
  expect(unauthorized.status).toBe(401);
  const response = await fetch(`http://127.0.0.1:${port}/turn`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ parts: [{ type: 'text', text: 'hi' }] }),
  });
  expect(response.status).toBe(409);
  expect(((await response.json()) as { error: string }).error).toMatch(/TUI harness: connect to GET \/tty/);
});

it('has no opencode API: /opencode/* answers 404 (after the token check)', async () => {
  expect((await fetch(`http://127.0.0.1:${port}/opencode/session`)).status).toBe(401);
  const response = await fetch(`http://127.0.0.1:${port}/opencode/session`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(404);
  expect(((await response.json()) as { error: string }).error).toBe('claude-code has no opencode server');
});
