/**
 * The claude-agent-sdk harness end to end: harness and vault as processes, the Agent SDK's
 * real Claude Code binary talking to a fake Anthropic Messages API (the gateway) through
 * the vault, which swaps the stub key for the real one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';
import { startFakePlatform } from './support/fake-platform';
import {
  spawnHarnessProcess,
  spawnVaultProcess,
  type EntryProcess,
  type VaultProcess,
} from './support/processes';
import { createTestPki, type TestPki } from './support/tls';
import { pushVaultSecrets } from './support/vault';

jest.setTimeout(180_000);

const REAL_GATEWAY_KEY = 'sk-real-gateway-claude-e2e-4242';
const HARNESS_TOKEN = 'harness-token-claude-0123456789abcdef';
const CALLBACK_TOKEN = 'callback-token-claude-0123456789abcdef';
const SANDBOX_ID = '7a7a7a7a-0000-4000-8000-000000000007';

let pki: TestPki;
let gateway: FakeLlmGateway;
let platform: Awaited<ReturnType<typeof startFakePlatform>>;
let vault: VaultProcess;
let harness: EntryProcess;
let harnessUrl: string;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  const sandboxDir = fs.mkdtempSync(path.join(pki.dir, 'sandbox-'));
  gateway = await startFakeLlmGateway({ tls: pki.upstreamServerCert });
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
  vault = await spawnVaultProcess(pki, sandboxDir, {
    REAL_LITELLM_API_KEY: REAL_GATEWAY_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  const pushed = await pushVaultSecrets(pki, vault.adminPort, { secrets: {} });
  stubs = (pushed.body as { stubs: Record<string, string> }).stubs;

  harness = spawnHarnessProcess(sandboxDir, vault, {
    SANDBOX_ID,
    HARNESS_ID: 'claude-agent-sdk',
    HARNESS_TOKEN,
    CALLBACK_URL: platform.url,
    CALLBACK_TOKEN,
  });
  const ready = await harness.waitForLog((line) => line.event === 'harness_listening', 120_000);
  harnessUrl = `http://127.0.0.1:${String(ready.port)}`;
});

afterAll(async () => {
  await harness?.stop();
  await vault?.process.stop();
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
      text: `fake-llm: ${text}`,
    });
  }
  expect(gateway.requests.filter((r) => r.path.startsWith('/v1/messages')).length).toBeGreaterThanOrEqual(2);
  for (const key of gateway.credentials()) {
    expect(key).toContain(REAL_GATEWAY_KEY);
    expect(key).not.toContain(stubs.LITELLM_API_KEY);
  }
  expect(platform.phases.map((report) => report.phase)).toEqual(['harness_listening']);
  expect(vault.process.output() + harness.output()).not.toContain(REAL_GATEWAY_KEY);
});
