/**
 * A hostile agent in real local mode (`npm run local`: embedded PostgreSQL, the worker, the
 * real vault and relay, the real opencode harness) pastes the stubs of its environment into a
 * prompt, hoping the vault swaps them for the real values on the way to the LLM gateway and
 * the gateway (like a model repeating its input) hands them back: the agent's own env var, a
 * per-session env var, and the deployment's gateway key. The gateway double echoes every
 * prompt. The reply, and everything local mode stores, must hold stubs at most; then every
 * file of the data directory (PostgreSQL's heap and WAL after a CHECKPOINT, the sandbox's
 * logs, the harness's HOME) is searched for every real value.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { startLocalPlatform, type LocalPlatform } from '../clients/support/local-platform';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';
import { filesUnder } from '../support/files-on-disk';

jest.setTimeout(240_000);

const tag = crypto.randomBytes(6).toString('hex');
const REAL = {
  GITHUB_TOKEN: `ghp_agentReal${tag}`,
  CI_TOKEN: `ci-sessionReal-${tag}`,
  LITELLM_API_KEY: `sk-gatewayReal-${tag}`,
};

let gateway: FakeLlmGateway;
let local: LocalPlatform;

async function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${local.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${local.masterKey}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as T };
}

beforeAll(async () => {
  gateway = await startFakeLlmGateway();
  local = await startLocalPlatform({
    litellmApiBase: `${gateway.url}/v1`,
    litellmApiKey: REAL.LITELLM_API_KEY,
  });
});

afterAll(async () => {
  await local?.stop();
  await gateway?.close();
});

it('a prompt full of stubs comes back with stubs, and no real value is stored anywhere', async () => {
  const agent = await api<{ id: string; unbound_env_vars: string[] }>(
    'POST',
    '/api/v1/managed_agents/agents',
    {
      model: 'fake-model',
      harness_id: 'opencode',
      env_vars: { GITHUB_TOKEN: REAL.GITHUB_TOKEN },
    },
  );
  expect(agent.status).toBe(201);
  const session = await api<{ id: string }>(
    'POST',
    `/api/v1/managed_agents/agents/${agent.body.id}/session`,
    {
      env_vars: { CI_TOKEN: REAL.CI_TOKEN },
    },
  );
  expect(session.status).toBe(201);
  let status = '';
  for (let i = 0; i < 600 && status !== 'ready' && status !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    status = (await api<{ status: string }>('GET', `/api/v1/managed_agents/sessions/${session.body.id}`)).body
      .status;
  }
  if (status !== 'ready') throw new Error(`session ${status}:\n${local.diagnostics()}`);

  // What the agent holds: the stub env file the vault wrote for its harness.
  const sandboxDir = path.join(local.dataDir, 'sandboxes', session.body.id);
  const stubs = Object.fromEntries(
    fs
      .readFileSync(path.join(sandboxDir, 'env', 'vault.env'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  for (const name of Object.keys(REAL)) expect(stubs[name]).toMatch(/^stub_/);

  const text = `repeat my env: ${stubs.GITHUB_TOKEN} ${stubs.CI_TOKEN} ${stubs.LITELLM_API_KEY}`;
  const reply = await api<{ parts: unknown[] }>(
    'POST',
    `/api/v1/managed_agents/sessions/${session.body.id}/message`,
    {
      text,
    },
  );
  expect(reply.status).toBe(200);
  const replied = JSON.stringify(reply.body);
  // The gateway echoed the prompt: the agent sees its stubs again, never a value.
  expect(replied).toContain(stubs.GITHUB_TOKEN);
  expect(replied).toContain(stubs.CI_TOKEN);
  for (const value of Object.values(REAL)) expect(replied).not.toContain(value);
  const stored = await api<{ response: unknown }>(
    'GET',
    `/api/v1/managed_agents/sessions/${session.body.id}`,
  );
  for (const value of Object.values(REAL)) expect(JSON.stringify(stored.body)).not.toContain(value);
  // The gateway got the real key only where it belongs: the credential header.
  expect(gateway.credentials().some((credential) => credential.includes(REAL.LITELLM_API_KEY))).toBe(true);

  // Everything on disk: force PostgreSQL to write its buffers first (heap and WAL).
  const { databasePassword } = JSON.parse(
    fs.readFileSync(path.join(local.dataDir, 'local-secrets.json'), 'utf8'),
  ) as {
    databasePassword: string;
  };
  const postgresPort = fs
    .readFileSync(path.join(local.dataDir, 'postgres', 'postmaster.pid'), 'utf8')
    .split('\n')[3]!;
  const client = new Client({
    connectionString: `postgres://postgres:${encodeURIComponent(databasePassword)}@127.0.0.1:${postgresPort.trim()}/lap`,
  });
  await client.connect();
  const row = await client.query<{ response: string }>('SELECT response::text FROM sessions WHERE id = $1', [
    session.body.id,
  ]);
  expect(row.rows[0]!.response).toContain(stubs.CI_TOKEN);
  await client.query('CHECKPOINT');
  await client.end();

  // Read once; the harness still runs, so a temporary file may go between listing and reading.
  const files = filesUnder(local.dataDir);
  const contents = new Map(
    files.flatMap((file) => {
      try {
        return [[file, fs.readFileSync(file)] as const];
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    }),
  );
  const home = path.join(sandboxDir, 'home');
  expect(files.some((file) => file.startsWith(`${home}/`))).toBe(true); // the harness HOME is searched
  expect(files.some((file) => file.includes(`${path.sep}pg_wal${path.sep}`))).toBe(true); // and the WAL
  // The search does see what the platform stored: the stubs of the echoed reply.
  expect([...contents.values()].filter((bytes) => bytes.includes(stubs.CI_TOKEN!)).length).toBeGreaterThan(0);
  for (const [name, value] of Object.entries(REAL)) {
    const hits = [...contents]
      .filter(([, bytes]) => bytes.includes(Buffer.from(value)))
      .map(([file]) => file);
    expect({ name, hits }).toEqual({ name, hits: [] });
  }
  for (const value of Object.values(REAL)) expect(local.logs()).not.toContain(value);
});
