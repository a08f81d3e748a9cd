/**
 * The claude-agent-sdk harness end to end: harness and vault as processes, the Agent SDK's
 * real Claude Code binary talking to a fake Anthropic Messages API (the gateway) through
 * the vault, which swaps the stub key for the real one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { Agent, request } from 'undici';
import { FAKE_CLAUDE_ANSWER, startFakeAnthropic } from './support/fake-llm';
import { startFakePlatform } from './support/fake-platform';
import { spawnEntry, type EntryProcess } from './support/processes';
import { createTestPki, type TestPki } from './support/tls';

jest.setTimeout(180_000);

const REAL_GATEWAY_KEY = 'sk-real-gateway-claude-e2e-4242';
const ADMIN_TOKEN = 'vault-admin-token-claude-0123456789';
const HARNESS_TOKEN = 'harness-token-claude-0123456789abcdef';
const CALLBACK_TOKEN = 'callback-token-claude-0123456789abcdef';
const SANDBOX_ID = '7a7a7a7a-0000-4000-8000-000000000007';

let pki: TestPki;
let gateway: Awaited<ReturnType<typeof startFakeAnthropic>>;
let platform: Awaited<ReturnType<typeof startFakePlatform>>;
let vault: EntryProcess;
let harness: EntryProcess;
let harnessUrl: string;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  const sandboxDir = fs.mkdtempSync(path.join(pki.dir, 'sandbox-'));
  gateway = await startFakeAnthropic(pki.upstreamServerCert);
  const spec: SandboxBootSpec = {
    sandbox_id: SANDBOX_ID,
    agent_id: 'agent-claude',
    harness_id: 'claude-agent-sdk',
    model: 'claude-test',
    prompt: 'You are a test agent.',
    repo_url: null,
    branch: 'main',
    requirements: null,
    mcp_servers: [],
    litellm_api_base: `https://localhost:${gateway.port}`,
    files: [],
  };
  platform = await startFakePlatform(spec, CALLBACK_TOKEN);
  const envFile = path.join(sandboxDir, 'vault.env');
  vault = spawnEntry('sandbox/vault/src/main.ts', {
    PATH: process.env.PATH!,
    VAULT_PORT: '0',
    VAULT_ADMIN_PORT: '0',
    VAULT_ADMIN_BIND_HOST: '127.0.0.1',
    VAULT_ADMIN_TOKEN: ADMIN_TOKEN,
    VAULT_ENV_FILE: envFile,
    VAULT_CA_CERT_PATH: pki.deploymentCaPath,
    VAULT_CA_KEY_PATH: pki.deploymentCaKeyPath,
    VAULT_CA_CERT_OUT: path.join(sandboxDir, 'vault-ca.pem'),
    VAULT_UPSTREAM_CA_PATH: pki.upstreamCaPath,
    REAL_LITELLM_API_KEY: REAL_GATEWAY_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  const listening = await vault.waitForLog((line) => line.event === 'vault_listening');
  const admin = new Agent({ connect: { ca: pki.deploymentCa.certPem, servername: 'lap-vault' } });
  const pushed = await request(`https://127.0.0.1:${String(listening.admin_port)}/v1/secrets`, {
    method: 'POST',
    dispatcher: admin,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ secrets: {} }),
  });
  stubs = ((await pushed.body.json()) as { stubs: Record<string, string> }).stubs;
  await admin.close();

  const proxy = `http://127.0.0.1:${String(listening.proxy_port)}`;
  harness = spawnEntry('sandbox/harness/src/main.ts', {
    PATH: process.env.PATH!,
    SANDBOX_ID,
    HARNESS_ID: 'claude-agent-sdk',
    PORT: '0',
    HARNESS_BIND_HOST: '127.0.0.1',
    HARNESS_TOKEN,
    CALLBACK_URL: platform.url,
    CALLBACK_TOKEN,
    VAULT_ENV_FILE: envFile,
    WORKSPACE_DIR: path.join(sandboxDir, 'workspace'),
    HOME: path.join(sandboxDir, 'home'),
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    NO_PROXY: '',
    NODE_EXTRA_CA_CERTS: path.join(sandboxDir, 'vault-ca.pem'),
  });
  const ready = await harness.waitForLog((line) => line.event === 'harness_listening', 120_000);
  harnessUrl = `http://127.0.0.1:${String(ready.port)}`;
});

afterAll(async () => {
  await harness?.stop();
  await vault?.stop();
  await Promise.all([gateway?.close(), platform?.close()]);
});

it('answers two turns through the vault; the gateway saw only the real key', async () => {
  for (const text of ['Say hello.', 'Again.']) {
    const response = await fetch(`${harnessUrl}/turn`, {
      method: 'POST',
      headers: { authorization: `Bearer ${HARNESS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ parts: [{ type: 'text', text }] }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { parts: unknown[] }).parts).toContainEqual({
      type: 'text',
      text: FAKE_CLAUDE_ANSWER,
    });
  }
  expect(gateway.keys.length).toBeGreaterThanOrEqual(2);
  for (const key of gateway.keys) {
    expect(key).toContain(REAL_GATEWAY_KEY);
    expect(key).not.toContain(stubs.LITELLM_API_KEY);
  }
  expect(platform.phases.map((report) => report.phase)).toEqual(['harness_listening']);
  expect(vault.output() + harness.output()).not.toContain(REAL_GATEWAY_KEY);
});
