/**
 * One sandbox end to end, as processes exactly as local mode runs them: the vault
 * (sandbox/vault/src/main.ts) and the opencode harness (sandbox/harness/src/main.ts, driving
 * the real `opencode serve`), a fake platform serving the boot spec, a git host over HTTPS
 * that requires the real token, and a fake OpenAI-compatible LLM over HTTPS that records
 * the key it receives. Only the vault ever holds a real value.
 * Then what the platform relies on: each reply once on /events, every turn bracketed,
 * /health's session id and busy flag, opencode's own API through /opencode/*, an idle
 * opencode stopped and woken by the next request, and opencode dying (killed): restarted
 * once (HARNESS_AGENT_RESTARTS=1), then reported dead.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';
import { startFakePlatform } from './support/fake-platform';
import { createBareRepo, startGitServer } from './support/git-server';
import {
  findOpencode,
  processTree,
  spawnHarnessProcess,
  spawnVaultProcess,
  waitGone,
  type EntryProcess,
  type VaultProcess,
} from './support/processes';
import { openSse } from './support/sse';
import { createTestPki, type TestPki } from './support/tls';
import { pushVaultSecrets } from './support/vault';

jest.setTimeout(180_000);

const REAL_GATEWAY_KEY = 'sk-real-gateway-e2e-5f1d2c3b4a';
const REAL_GIT_TOKEN = 'ghp_realE2eGitToken987654321';
const REAL_AGENT_SECRET = 'real-agent-secret-e2e-77';
const HARNESS_TOKEN = 'harness-token-e2e-0123456789abcdef';
const CALLBACK_TOKEN = 'callback-token-e2e-0123456789abcdef';
const SANDBOX_ID = '2f1e6a52-6f86-4d1c-9a4f-5a0c0d1e2f3a';

let pki: TestPki;
let sandboxDir: string;
let llm: FakeLlmGateway;
let git: Awaited<ReturnType<typeof startGitServer>>;
let platform: Awaited<ReturnType<typeof startFakePlatform>>;
let vault: VaultProcess;
let harness: EntryProcess;
let harnessUrl: string;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  sandboxDir = fs.mkdtempSync(path.join(pki.dir, 'sandbox-'));
  const repoRoot = path.join(sandboxDir, 'git-host');
  createBareRepo(repoRoot, 'main', { 'README.md': '# the agent repo\n' });
  git = await startGitServer(repoRoot, pki.upstreamServerCert, REAL_GIT_TOKEN);
  llm = await startFakeLlmGateway({ tls: pki.upstreamServerCert });

  const spec: SandboxBootSpec = {
    sandbox_id: SANDBOX_ID,
    agent_id: '0c6b7e1a-1111-4c2d-8e9f-000000000001',
    harness_id: 'opencode',
    model: 'test-model',
    prompt: 'You are a test agent.',
    repo_url: `${git.url}/repo.git`,
    branch: 'main',
    requirements: null,
    mcp_servers: [],
    litellm_api_base: `https://localhost:${llm.port}`,
    files: [
      {
        path: '~/.claude/skills/hello/SKILL.md',
        content_base64: Buffer.from('# hello skill\n').toString('base64'),
      },
      { path: 'notes/todo.txt', content_base64: Buffer.from('ship it\n').toString('base64'), mode: 0o600 },
    ],
  };
  platform = await startFakePlatform(spec, CALLBACK_TOKEN);

  vault = await spawnVaultProcess(pki, sandboxDir, {
    LANG: 'C.UTF-8',
    REAL_LITELLM_API_KEY: REAL_GATEWAY_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  harness = spawnHarnessProcess(sandboxDir, vault, {
    LANG: 'C.UTF-8',
    SANDBOX_ID,
    HARNESS_ID: 'opencode',
    HARNESS_TOKEN,
    CALLBACK_URL: platform.url,
    CALLBACK_TOKEN,
    LOG_LEVEL: 'debug',
    HARNESS_AGENT_RESTARTS: '1',
    // Idle opencode is stopped after 2 s here (30 s by default): every test below wakes it.
    HARNESS_AGENT_PARK_MS: '2000',
  });
  // The harness waits for the vault; the platform pushes a little later, as in bring-up.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const pushed = await pushVaultSecrets(pki, vault.adminPort, {
    secrets: {
      GIT_TOKEN: { value: REAL_GIT_TOKEN, hosts: ['127.0.0.2'] },
      MY_API_TOKEN: { value: REAL_AGENT_SECRET, hosts: [] },
    },
  });
  expect(pushed.status).toBe(200);
  stubs = (pushed.body as { stubs: Record<string, string> }).stubs;

  const ready = await harness.waitForLog((line) => line.event === 'harness_listening', 120_000);
  harnessUrl = `http://127.0.0.1:${String(ready.port)}`;
  // The harness logs that it listens, then reports it: wait for the report too.
  while (!platform.phases.some((report) => report.phase === 'harness_listening'))
    await new Promise((resolve) => setTimeout(resolve, 20));
});

afterAll(async () => {
  await harness?.stop();
  await vault?.process.stop();
  await Promise.all([llm?.close(), git?.close(), platform?.close()]);
});

it('reports the harness phases in order', () => {
  expect(platform.phases.map((report) => report.phase)).toEqual(['cloning_repo', 'harness_listening']);
});

it('cloned the repo through the vault: the git host saw the real token, never the stub', () => {
  expect(fs.readFileSync(path.join(sandboxDir, 'workspace', 'README.md'), 'utf8')).toBe('# the agent repo\n');
  const passwords = git.authorizations.filter(Boolean).map(
    (header) =>
      Buffer.from(header.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':')[1],
  );
  expect(passwords.length).toBeGreaterThan(0);
  expect(new Set(passwords)).toEqual(new Set([REAL_GIT_TOKEN]));
  // Nothing of the token, stub or real, stays in the checkout's git config.
  const gitConfig = fs.readFileSync(path.join(sandboxDir, 'workspace', '.git', 'config'), 'utf8');
  expect(gitConfig).not.toContain(stubs.GIT_TOKEN);
  expect(gitConfig).not.toContain(REAL_GIT_TOKEN);
});

it('wrote the files (~ is HOME, relative paths are in the workspace)', () => {
  expect(fs.readFileSync(path.join(sandboxDir, 'home', '.claude/skills/hello/SKILL.md'), 'utf8')).toBe(
    '# hello skill\n',
  );
  const todo = path.join(sandboxDir, 'workspace', 'notes/todo.txt');
  expect(fs.readFileSync(todo, 'utf8')).toBe('ship it\n');
  expect(fs.statSync(todo).mode & 0o777).toBe(0o600);
});

it('answers a turn with the real opencode through the vault; the LLM saw the real key', async () => {
  const unauthorized = await fetch(`${harnessUrl}/turn`, { method: 'POST', body: '{}' });
  expect(unauthorized.status).toBe(401);

  const events: string[] = [];
  const controller = new AbortController();
  const stream = fetch(`${harnessUrl}/events`, {
    headers: { authorization: `Bearer ${HARNESS_TOKEN}` },
    signal: controller.signal,
  }).then(async (response) => {
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      events.push(Buffer.from(value).toString());
    }
  });

  const response = await fetch(`${harnessUrl}/turn`, {
    method: 'POST',
    headers: { authorization: `Bearer ${HARNESS_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ parts: [{ type: 'text', text: 'Say hello.' }] }),
  });
  const body = (await response.json()) as { parts: Array<{ type: string; text?: string }> };
  expect(response.status).toBe(200);
  expect(body.parts).toContainEqual({ type: 'text', text: 'fake-llm: Say hello.' });

  expect(llm.credentials().length).toBeGreaterThan(0);
  expect(new Set(llm.credentials())).toEqual(new Set([`Bearer ${REAL_GATEWAY_KEY}`]));

  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  await stream.catch(() => undefined);
  const sse = events.join('');
  expect(sse).toMatch(/id: \d+\nevent: turn_started\n/);
  expect(sse).toContain('event: turn_done');
  expect(sse).toContain('fake-llm: Say hello.');
  // Streamed as the LLM produced it: the fake LLM sends the answer word by word.
  expect(sse).toMatch(/event: token\ndata: \{"type":"token","turn_id":"[^"]+","text":"fake-llm: "\}/);
});

it('gave the agent processes stubs only (the environment of opencode itself)', async () => {
  const opencodePid = await findOpencode(harness.child.pid!);
  const agentProcesses = processTree(harness.child.pid!).filter((pid) => pid !== harness.child.pid);
  expect(agentProcesses).toContain(opencodePid);
  const environments = agentProcesses.map((pid) =>
    Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    ),
  );
  const opencode = environments[agentProcesses.indexOf(opencodePid)];
  expect(opencode).toBeDefined();
  expect(opencode!.LITELLM_API_KEY).toBe(stubs.LITELLM_API_KEY);
  expect(opencode!.MY_API_TOKEN).toBe(stubs.MY_API_TOKEN);
  expect(opencode!.GIT_TOKEN).toBeUndefined();
  expect(opencode!.HARNESS_TOKEN).toBeUndefined();
  expect(opencode!.CALLBACK_TOKEN).toBeUndefined();
  expect(opencode!.REPO_URL).toBe(`${git.url}/repo.git`);
  expect(opencode!.LITELLM_DEFAULT_MODEL).toBe('test-model');
  const text = JSON.stringify(environments);
  for (const real of [REAL_GATEWAY_KEY, REAL_GIT_TOKEN, REAL_AGENT_SECRET]) expect(text).not.toContain(real);
});

it('asked nothing of the npm registry: opencode does not install its plugin package at each start', () => {
  const hosts = vault.process
    .output()
    .split('\n')
    .flatMap((line) => {
      try {
        return [String((JSON.parse(line) as { host?: unknown }).host ?? '')];
      } catch {
        return [];
      }
    });
  expect(hosts).toContain('localhost'); // the vault logs each request's host: it saw the LLM calls
  expect(hosts.filter((host) => host.includes('npmjs'))).toEqual([]);
});

it('kept every real value out of both processes logs', () => {
  const logs = vault.process.output() + harness.output();
  expect(vault.process.output()).toContain('"swapped":["LITELLM_API_KEY"]');
  for (const real of [REAL_GATEWAY_KEY, REAL_GIT_TOKEN, REAL_AGENT_SECRET]) expect(logs).not.toContain(real);
});

const auth = { authorization: `Bearer ${HARNESS_TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

interface Health {
  status: string;
  harness_session_id: string | null;
  busy: boolean;
  reason?: string;
}
interface Event {
  type: string;
  turn_id?: string;
  text?: string;
  message?: string;
  parts?: Array<{ type: string; text?: string }>;
}

async function health(): Promise<{ status: number; body: Health }> {
  const response = await fetch(`${harnessUrl}/health`);
  return { status: response.status, body: (await response.json()) as Health };
}

async function turn(text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${harnessUrl}/turn`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ parts: [{ type: 'text', text }] }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitForHealth(predicate: (h: Health) => boolean, timeoutMs = 90_000): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await health();
    if (predicate(body)) return body;
    if (Date.now() > deadline) throw new Error(`health never matched; last: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A process's state letter from /proc (`T`: stopped). */
function processState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

async function waitForState(pid: number, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (processState(pid) !== state) {
    if (Date.now() > deadline) throw new Error(`process ${pid} never reached state ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The events of one turn, in order, once its turn_done or error arrived. */
async function eventsOfTurn(events: ReturnType<typeof openSse>, turnId: string): Promise<Event[]> {
  await events.waitFor<Event>((e) => e.turn_id === turnId && (e.type === 'turn_done' || e.type === 'error'));
  return events.json<Event>().filter((e) => e.turn_id === turnId);
}

describe('what the platform relies on', () => {
  let sessionId: string;

  it('sends each piece of the reply once on /events, the turn bracketed by turn_started and turn_done', async () => {
    const events = openSse(`${harnessUrl}/events`, auth);
    try {
      expect(await events.opened).toBe(200);
      const answered = await turn('Count to three.');
      expect(answered.status).toBe(200);
      const started = await events.waitFor<Event>((e) => e.type === 'turn_started');
      const ofTurn = await eventsOfTurn(events, started.turn_id!);
      expect(ofTurn[0]!.type).toBe('turn_started');
      expect(ofTurn.at(-1)!.type).toBe('turn_done');
      // The fake LLM streams it word by word: the tokens together are the reply, once.
      const tokens = ofTurn.filter((e) => e.type === 'token');
      expect(tokens.length).toBeGreaterThan(1);
      expect(tokens.map((e) => e.text).join('')).toBe('fake-llm: Count to three.');
      expect(ofTurn.at(-1)!.parts).toEqual([{ type: 'text', text: 'fake-llm: Count to three.' }]);
    } finally {
      await events.close();
    }
  });

  it('reports on /health the opencode session it drives, and busy while a turn runs', async () => {
    const idle = await health();
    expect(idle.status).toBe(200);
    expect(idle.body).toMatchObject({
      status: 'ok',
      harness_id: 'opencode',
      supports_tui: false,
      busy: false,
    });
    expect(idle.body.harness_session_id).toMatch(/^ses_/);
    sessionId = idle.body.harness_session_id!;

    const release = llm.stall();
    const pending = turn('Take your time.');
    try {
      await waitForHealth((h) => h.busy);
    } finally {
      release();
    }
    expect((await pending).status).toBe(200);
    expect((await health()).body).toMatchObject({ busy: false, harness_session_id: sessionId });
  });

  it("passes /opencode/* to opencode's own API (bearer token required), and brackets that turn too", async () => {
    const denied = await fetch(`${harnessUrl}/opencode/session`);
    expect(denied.status).toBe(401);

    const listed = await fetch(`${harnessUrl}/opencode/session`, { headers: auth });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as Array<{ id: string }>).map((s) => s.id)).toContain(sessionId);

    const opencodeEvents = openSse(`${harnessUrl}/opencode/event`, auth);
    const harnessEvents = openSse(`${harnessUrl}/events`, auth);
    try {
      expect(await opencodeEvents.opened).toBe(200);
      expect(await harnessEvents.opened).toBe(200);
      await opencodeEvents.waitFor<{ type: string }>((e) => e.type === 'server.connected');
      const posted = await fetch(`${harnessUrl}/opencode/session/${sessionId}/message`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          parts: [{ type: 'text', text: 'Via passthrough.' }],
          model: { providerID: 'litellm', modelID: 'test-model' },
        }),
      });
      expect(posted.status).toBe(200);
      const answer = (await posted.json()) as { parts: Array<{ type: string; text?: string }> };
      expect(answer.parts).toContainEqual(
        expect.objectContaining({ type: 'text', text: 'fake-llm: Via passthrough.' }),
      );
      // opencode's own event stream, streamed through.
      await opencodeEvents.waitFor<{ type: string; properties: { sessionID?: string } }>(
        (e) => e.type === 'message.part.delta' && e.properties.sessionID === sessionId,
      );
      // Our stream: the turn nobody sent through /turn is bracketed all the same, its text once.
      const started = await harnessEvents.waitFor<Event>((e) => e.type === 'turn_started');
      const ofTurn = await eventsOfTurn(harnessEvents, started.turn_id!);
      expect(ofTurn.at(-1)).toMatchObject({
        type: 'turn_done',
        parts: [{ type: 'text', text: 'fake-llm: Via passthrough.' }],
      });
      expect(
        ofTurn
          .filter((e) => e.type === 'token')
          .map((e) => e.text)
          .join(''),
      ).toBe('fake-llm: Via passthrough.');
    } finally {
      await opencodeEvents.close();
      await harnessEvents.close();
    }
    expect((await health()).body.busy).toBe(false);
  });

  it('stops an idle opencode (SIGSTOP) and wakes it for the next request; never while /opencode/event is open', async () => {
    const opencode = await findOpencode(harness.child.pid!);
    await waitForState(opencode, 'T', 15_000);
    const answered = await turn('Wake up.');
    expect(answered.status).toBe(200);
    expect(answered.body.parts).toContainEqual({ type: 'text', text: 'fake-llm: Wake up.' });

    await waitForState(opencode, 'T', 15_000);
    const watching = openSse(`${harnessUrl}/opencode/event`, auth);
    try {
      expect(await watching.opened).toBe(200);
      expect(processState(opencode)).not.toBe('T');
      // Three times the idle time with a client watching: it stays up and its events flow.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      expect(processState(opencode)).not.toBe('T');
      expect(watching.json<{ type: string }>().map((e) => e.type)).toContain('server.connected');
    } finally {
      await watching.close();
    }
    await waitForState(opencode, 'T', 15_000);
  });

  it('restarts opencode when it dies, in the same session, and the next turn works', async () => {
    const killed = await findOpencode(harness.child.pid!);
    process.kill(killed, 'SIGKILL');
    expect(await waitGone([killed])).toEqual([]);
    const restarting = await waitForHealth((h) => h.status === 'starting', 10_000);
    expect(restarting).toMatchObject({ harness_session_id: sessionId, busy: false });
    const back = await waitForHealth((h) => h.status === 'ok', 90_000);
    expect(back.harness_session_id).toBe(sessionId);
    const restarted = await findOpencode(harness.child.pid!);
    expect(restarted).not.toBe(killed);
    const answered = await turn('After the restart.');
    expect(answered.status).toBe(200);
    expect(answered.body.parts).toContainEqual({ type: 'text', text: 'fake-llm: After the restart.' });
  });

  it('reports itself dead (503 with the reason, no log lines) once opencode dies past its restarts', async () => {
    const events = openSse(`${harnessUrl}/events`, auth);
    try {
      expect(await events.opened).toBe(200);
      process.kill(await findOpencode(harness.child.pid!), 'SIGKILL');
      const dead = await waitForHealth((h) => h.status === 'dead');
      expect((await health()).status).toBe(503);
      expect(dead.reason).toBe(
        'the agent process (opencode) exited with signal SIGKILL; it was restarted 1 time(s) in the last 10 min and is not restarted again',
      );
      const refused = await turn('Anyone there?');
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe(dead.reason);
      const passthrough = await fetch(`${harnessUrl}/opencode/session`, { headers: auth });
      expect(passthrough.status).toBe(503);
      expect(((await passthrough.json()) as { error: string }).error).toBe(dead.reason);
      await events.waitFor<Event>((e) => e.type === 'error' && e.message === dead.reason);
    } finally {
      await events.close();
    }
  });
});
