/**
 * node:test file, run by ../cli.test.ts. The built `lap` CLI in a real pseudo-terminal
 * (node-pty) against the control-plane TEST DOUBLE (../support/fake-lap-server.ts):
 * login, tables, settings precedence, error lines, the REPL and the TUI attach.
 * The same flows against real local mode are in e2e-local.ts.
 */
import { expect } from 'expect';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CliTerminal, runLap } from '../support/cli-terminal.js';
import { startFakeLapServer, type FakeLapServer } from '../support/fake-lap-server.js';
import { unusedPort, waitUntil } from '../support/loopback.js';

let lap: FakeLapServer;
let home: string;
let env: Record<string, string>;

before(async () => {
  lap = await startFakeLapServer({ bootMs: 400 });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-cli-home-'));
  env = { HOME: home, LAP_BASE_URL: lap.url, LAP_API_KEY: lap.masterKey };
});
after(async () => {
  await lap.close();
  fs.rmSync(home, { recursive: true, force: true });
});

test('login prompts for URL and key, verifies them, writes ~/.lap/config.json with mode 0600', async () => {
  const loginHome = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-login-'));
  const terminal = new CliTerminal(['login'], { HOME: loginHome });
  await terminal.waitFor('LAP URL:');
  terminal.write(`${lap.url}\r`);
  await terminal.waitFor('API key (MASTER_KEY):');
  terminal.write(`${lap.masterKey}\r`);
  expect(await terminal.exitCode()).toBe(0);
  expect(terminal.text).toContain(`✓ logged in to ${lap.url}`);
  expect(terminal.text).not.toContain(lap.masterKey); // the key is masked while typed
  const file = path.join(loginHome, '.lap', 'config.json');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ baseUrl: lap.url, apiKey: lap.masterKey });

  // The saved settings are used without env or flags.
  const listed = await runLap(['agents', 'list'], { HOME: loginHome });
  expect(listed.code).toBe(0);
});

test('login with a bad key prints one error line and saves nothing', async () => {
  const loginHome = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-login-'));
  const terminal = new CliTerminal(['login'], { HOME: loginHome });
  await terminal.waitFor('LAP URL:');
  terminal.write(`${lap.url}\r`);
  await terminal.waitFor('API key');
  terminal.write('wrong-key\r');
  expect(await terminal.exitCode()).toBe(1);
  expect(terminal.text).toMatch(
    /^error: the platform at http:\/\/127\.0\.0\.1:\d+ rejected the API key \(401 unauthorized\)/m,
  );
  expect(terminal.text).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  expect(fs.existsSync(path.join(loginHome, '.lap', 'config.json'))).toBe(false);
});

test('unreachable server, bad key and unknown agent give one clear line each', async () => {
  const port = await unusedPort();
  const unreachable = await runLap(['agents', 'list'], { ...env, LAP_BASE_URL: `http://127.0.0.1:${port}` });
  expect(unreachable.code).toBe(1);
  expect(unreachable.text.trim()).toBe(
    `error: cannot reach the platform at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}: is the platform running? (check --base-url)`,
  );

  const badKey = await runLap(['ps'], { ...env, LAP_API_KEY: 'nope' });
  expect(badKey.code).toBe(1);
  expect(badKey.text.trim().split('\n')).toHaveLength(1);
  expect(badKey.text).toContain('rejected the API key (401 unauthorized)');

  const unknown = await runLap(['run', 'no-such-agent'], env);
  expect(unknown.code).toBe(1);
  expect(unknown.text.trim()).toBe("error: no agent named 'no-such-agent' (see `lap agents list`)");
});

test('settings precedence: flags > LAP_* env > config file', async () => {
  const precedenceHome = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-prec-'));
  fs.mkdirSync(path.join(precedenceHome, '.lap'));
  fs.writeFileSync(
    path.join(precedenceHome, '.lap', 'config.json'),
    JSON.stringify({ baseUrl: lap.url, apiKey: 'from-file' }),
  );
  const fromFile = await runLap(['ps'], { HOME: precedenceHome });
  expect(fromFile.text).toContain('rejected the API key');
  const fromEnv = await runLap(['ps'], { HOME: precedenceHome, LAP_API_KEY: lap.masterKey });
  expect(fromEnv.code).toBe(0);
  const flagWins = await runLap(['--api-key', 'from-flag', 'ps'], {
    HOME: precedenceHome,
    LAP_API_KEY: lap.masterKey,
  });
  expect(flagWins.text).toContain('rejected the API key');
  const port = await unusedPort();
  const urlFlag = await runLap(['--base-url', `http://127.0.0.1:${port}`, 'ps'], env);
  expect(urlFlag.text).toContain(`cannot reach the platform at http://127.0.0.1:${port}`);
});

test('agents create, list (table) and rm', async () => {
  const created = await runLap(
    [
      'agents',
      'create',
      '--model',
      'openai/fake',
      '--name',
      'table-agent',
      '--harness',
      'claude-agent-sdk',
      '--env',
      'GITHUB_TOKEN=ghp_x',
    ],
    env,
  );
  expect(created.code).toBe(0);
  const id = created.text.match(/([0-9a-f-]{36})\s+table-agent/)?.[1];
  expect(id).toBeDefined();
  expect((lap.agents.get(id!)?.received as Record<string, unknown>).env_vars).toEqual({
    GITHUB_TOKEN: 'ghp_x',
  });

  const listed = await runLap(['agents', 'list'], env);
  expect(listed.text).toMatch(/^ID\s+NAME\s+MODEL\s+HARNESS\s+TEMPLATE\s*$/m);
  expect(listed.text).toMatch(new RegExp(`^${id}\\s+table-agent\\s+openai/fake\\s+claude-agent-sdk`, 'm'));

  const removed = await runLap(['agents', 'rm', 'table-agent'], env);
  expect(removed.text).toContain(`✓ agent table-agent deleted (${id})`);
  expect(lap.agents.has(id!)).toBe(false);
});

test('run: spinner while booting, REPL with --prompt, /id, /stream on, /quit leaves the session alive', async () => {
  await runLap(['agents', 'create', '--model', 'openai/fake', '--name', 'chat-agent'], env);
  const terminal = new CliTerminal(['run', 'chat-agent', '--prompt', 'Review the auth module'], env);
  const sessionId = (await terminal.waitFor(/✓ session ([0-9a-f-]{36})/))[1];
  await terminal.waitFor(/waiting for sandbox: \w+ \(\d+\.\ds\)/);
  await terminal.waitFor(/sandbox ready in \d+\.\ds/);
  await terminal.waitFor('echo: Review the auth module');
  await terminal.waitFor('\n> ');

  let mark = terminal.text.length;
  terminal.write('/id\r');
  await terminal.waitFor(`\n${sessionId}\n`, 5_000, mark);

  terminal.write('hello there\r');
  await terminal.waitFor('echo: hello there', 5_000, mark);

  mark = terminal.text.length;
  terminal.write('/stream on\r');
  await terminal.waitFor('streaming on', 5_000, mark);
  terminal.write('stream me\r');
  await terminal.waitFor('echo: stream me\n', 5_000, mark);
  // Streamed through GET /stream (createClaudeStream), opened before the message was sent.
  const streamAt = lap.requests.lastIndexOf(`GET /v1/managed_agents/sessions/${sessionId}/stream`);
  expect(streamAt).toBeGreaterThan(-1);
  expect(lap.requests.lastIndexOf(`POST /v1/managed_agents/sessions/${sessionId}/message`)).toBeGreaterThan(
    streamAt,
  );

  terminal.write('/quit\r');
  expect(await terminal.exitCode()).toBe(0);
  expect(terminal.text).toContain(`session ${sessionId} left running`);
  expect(lap.sessions.get(sessionId)?.status).toBe('ready');

  const ps = await runLap(['ps'], env);
  expect(ps.text).toMatch(/^ID\s+AGENT\s+STATUS\s+AGE\s*$/m);
  expect(ps.text).toMatch(new RegExp(`^${sessionId}\\s+chat-agent\\s+ready\\s+\\d+s`, 'm'));

  // Re-attach, then Ctrl-D ends the session.
  const attached = new CliTerminal(['sessions', 'attach', sessionId], env);
  await attached.waitFor(`✓ attached to session ${sessionId}`);
  await attached.waitFor('\n> ');
  attached.write('again\r');
  await attached.waitFor('echo: again');
  attached.write('\x04');
  expect(await attached.exitCode()).toBe(0);
  expect(attached.text).toContain(`✓ session ${sessionId} stopped`);
  expect(lap.sessions.get(sessionId)?.status).toBe('dead');
});

test('a failed bring-up ends run with the failure reason', async () => {
  await runLap(['agents', 'create', '--model', 'openai/fake', '--name', 'failing-agent'], env);
  lap.failNextSession('git clone failed: repository not found');
  const result = await runLap(['run', 'failing-agent'], env);
  expect(result.code).toBe(1);
  expect(result.text).toMatch(/sandbox did not start/);
  expect(result.text).toMatch(
    /^error: session [0-9a-f-]{36} failed: git clone failed: repository not found$/m,
  );
});

test('Ctrl-C while the sandbox boots stops waiting, not the session, and says how to come back', async () => {
  const slow = await startFakeLapServer({ bootMs: 60_000 });
  try {
    const slowEnv = { HOME: home, LAP_BASE_URL: slow.url, LAP_API_KEY: slow.masterKey };
    await runLap(['agents', 'create', '--model', 'openai/fake', '--name', 'slow-agent'], slowEnv);
    const terminal = new CliTerminal(['run', 'slow-agent'], slowEnv);
    const sessionId = (await terminal.waitFor(/✓ session ([0-9a-f-]{36})/))[1];
    await terminal.waitFor('waiting for sandbox');
    terminal.write('\x03');
    expect(await terminal.exitCode()).toBe(1);
    expect(terminal.text).toContain(
      `error: interrupted; session ${sessionId} keeps starting: \`lap sessions attach ${sessionId}\` or \`lap sessions rm ${sessionId}\``,
    );
    expect(slow.sessions.get(sessionId)?.status).toBe('creating');
  } finally {
    await slow.close();
  }
});

test('TUI harness: run attaches the raw terminal through the platform route with the key as a header, forwards keys and resizes, Ctrl-] detaches', async () => {
  await runLap(
    ['agents', 'create', '--model', 'openai/fake', '--name', 'tui-agent', '--harness', 'claude-code'],
    env,
  );
  const terminal = new CliTerminal(['run', 'tui-agent'], env, { cols: 100, rows: 30 });
  const sessionId = (await terminal.waitFor(/✓ session ([0-9a-f-]{36})/))[1];
  await terminal.waitFor(`fake tty for ${sessionId}`);
  terminal.write('ls');
  await terminal.waitFor('tty got: "ls"');
  terminal.resize(90, 20);
  await waitUntil(() =>
    (lap.ttyInput.get(sessionId) ?? []).includes('{"type":"resize","cols":90,"rows":20}'),
  );
  expect(lap.ttyInput.get(sessionId)?.[0]).toBe('{"type":"resize","cols":100,"rows":30}');
  // The platform key in the handshake's header, nothing in the URL (access logs keep URLs).
  expect(lap.ttyHandshakes.at(-1)).toEqual({
    url: `/api/v1/managed_agents/sessions/${sessionId}/tty`,
    authorization: `Bearer ${lap.masterKey}`,
  });
  terminal.write('\x1d');
  expect(await terminal.exitCode()).toBe(0);
  expect(terminal.text).toContain(`detached; session ${sessionId} keeps running`);
  expect(lap.sessions.get(sessionId)?.status).toBe('ready');

  const removed = await runLap(['sessions', 'rm', sessionId], env);
  expect(removed.text).toContain(`✓ session ${sessionId} terminated`);
  expect(lap.sessions.get(sessionId)?.status).toBe('dead');
});
