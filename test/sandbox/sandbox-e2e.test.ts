/**
 * One sandbox end to end, as processes exactly as local mode runs them: the vault
 * (sandbox/vault/src/main.ts) and the opencode harness (sandbox/harness/src/main.ts, driving
 * the real `opencode serve`), a fake platform serving the boot spec, a git host over HTTPS
 * that requires the real token, and a fake OpenAI-compatible LLM over HTTPS that records
 * the key it receives. Only the vault ever holds a real value.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';
import { startFakePlatform } from './support/fake-platform';
import { createBareRepo, startGitServer } from './support/git-server';
import {
  spawnHarnessProcess,
  spawnVaultProcess,
  type EntryProcess,
  type VaultProcess,
} from './support/processes';
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

it('gave the agent processes stubs only (the environment of opencode itself)', () => {
  const children = fs
    .readFileSync(`/proc/${harness.child.pid}/task/${harness.child.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const environments = children.map((pid) =>
    Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    ),
  );
  const opencode = environments.find((env) => env.OPENCODE_CONFIG_CONTENT);
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

it('kept every real value out of both processes logs', () => {
  const logs = vault.process.output() + harness.output();
  expect(vault.process.output()).toContain('"swapped":["LITELLM_API_KEY"]');
  for (const real of [REAL_GATEWAY_KEY, REAL_GIT_TOKEN, REAL_AGENT_SECRET]) expect(logs).not.toContain(real);
});
