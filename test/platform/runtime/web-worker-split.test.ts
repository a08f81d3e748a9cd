/**
 * The AWS split, as two runtimes on one database: a web process whose launcher refuses to
 * launch or read logs (its role cannot RunTask or read sandbox logs), and a worker with the
 * local launcher serving its internal listener. A session with per-session env vars created
 * through the web is taken by the worker (sealed values over the private call, stored
 * nowhere) and served end to end; a job the web queues wakes a worker in idle back-off at
 * once; diagnose gets the sandbox's log lines from the worker; when no worker answers, the
 * client gets a 503 and nothing exists.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type pg from 'pg';
import { buildApp, buildInternalApp } from '../../../platform/src/api/app';
import { createPool } from '../../../platform/src/db/pool';
import type { SandboxLauncher } from '../../../platform/src/sandbox/launcher';
import { freeLoopbackPort } from '../../../platform/src/sandbox/local/free-port';
import { LocalSandboxLauncher } from '../../../platform/src/sandbox/local/local-launcher';
import { callbackToken } from '../../../platform/src/sandbox/tokens';
import { LocalSecretStore } from '../../../platform/src/secrets/local';
import type { SecretContext, SecretStore } from '../../../platform/src/secrets/secret-store';
import { signWorkerCall } from '../../../platform/src/worker-link/call-token';
import { WorkerLink } from '../../../platform/src/worker-link/client';
import {
  createSessionRuntime,
  createWebRuntime,
  type RoleRuntime,
  type SessionRuntime,
} from '../../../platform/src/worker/runtime';
import { createCertificateAuthority } from '../../../sandbox/vault/src/ca';
import { filesContaining } from '../../support/files-on-disk';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { BASE, masterKeyApi, waitFor } from './support/runtime-fixture';

jest.setTimeout(120_000);

const MASTER_KEY = 'split-master-key';
const SIGNING_KEY = 'split-signing-key-0123456789';
const REAL_CI_TOKEN = `ci-real-${crypto.randomBytes(8).toString('hex')}`;
const TURNS = { turnTimeoutMs: 30_000, stallGraceMs: 10_000, pollMs: 100 };

/** Every log line of both processes, as written. */
const logLines: string[] = [];
const logTo = (name: string) =>
  pino(
    { level: 'debug', base: { process: name } },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );

/** The web's secret store, recording what it sealed for a session (to search for it later). */
class RecordingStore implements SecretStore {
  readonly sealed: string[] = [];
  constructor(private readonly inner: SecretStore) {}
  async encrypt(plaintext: string, context: SecretContext): Promise<string> {
    const out = await this.inner.encrypt(plaintext, context);
    if (context.purpose === 'session_env_vars') this.sealed.push(out);
    return out;
  }
  decrypt(ciphertext: string, context: SecretContext): Promise<string> {
    return this.inner.decrypt(ciphertext, context);
  }
}

let database: TestDatabase;
let pool: pg.Pool;
let dataDir: string;
let launcher: LocalSandboxLauncher;
let worker: SessionRuntime;
let internalApp: FastifyInstance;
let internalUrl: string;
let web: RoleRuntime;
let webApp: FastifyInstance;
let webUrl: string;
let webStore: RecordingStore;
const refused: string[] = [];

const api = <T>(base: string, method: string, route: string, body?: unknown) =>
  masterKeyApi(base, MASTER_KEY)<T>(method, route, body);

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool({ url: database.url, max: 8 });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-split-'));
  const ca = createCertificateAuthority();
  fs.writeFileSync(path.join(dataDir, 'ca.pem'), ca.certPem);
  fs.writeFileSync(path.join(dataDir, 'ca-key.pem'), ca.keyPem, { mode: 0o600 });
  launcher = new LocalSandboxLauncher({
    dataDir,
    caCertPath: path.join(dataDir, 'ca.pem'),
    caKeyPath: path.join(dataDir, 'ca-key.pem'),
    litellm: { apiBase: 'http://127.0.0.1:9', apiKey: 'sk-split-gateway' },
    harnessEntry: path.join(__dirname, 'support/fake-harness.ts'),
    extraEnv: { FAKE_HARNESS_MODE: 'normal' },
  });
  const key = Buffer.alloc(32, 5);
  const internalPort = await freeLoopbackPort();
  internalUrl = `http://127.0.0.1:${internalPort}`;
  // The worker: launches, and sleeps long between looks while idle (only a poke wakes it early).
  worker = createSessionRuntime({
    db: pool,
    launcher,
    secretStore: new LocalSecretStore(key),
    log: logTo('worker'),
    signingKey: SIGNING_KEY,
    callbackUrl: internalUrl,
    vaultCaCertPem: ca.certPem,
    creatingTimeoutMs: 60_000,
    turns: TURNS,
    bootSpec: { litellmApiBase: 'http://127.0.0.1:9', preinstalledGithubRepo: undefined },
    polling: { busyMs: 1500, idleMaxMs: 60_000 },
    bringUpPollMs: 100,
  });
  internalApp = await buildInternalApp({ log: logTo('worker'), ...worker.internal });
  await internalApp.listen({ port: internalPort, host: '127.0.0.1' });
  worker.startWorker();

  // The web: what its role may do to sandboxes is look and stop; launching and logs throw.
  const webLauncher: SandboxLauncher = {
    launch: async () => {
      refused.push('launch');
      throw new Error('AccessDenied: ecs:RunTask');
    },
    recentLogs: async () => {
      refused.push('recentLogs');
      throw new Error('AccessDenied: logs:GetLogEvents');
    },
    describe: (ref) => launcher.describe(ref),
    stop: (ref, reason) => launcher.stop(ref, reason),
    listByTags: (tags) => launcher.listByTags(tags),
  };
  webStore = new RecordingStore(new LocalSecretStore(key));
  const webLog = logTo('web');
  web = createWebRuntime({
    db: pool,
    sandboxes: webLauncher,
    secretStore: webStore,
    log: webLog,
    worker: new WorkerLink({ baseUrl: internalUrl, signingKey: SIGNING_KEY }),
    signingKey: SIGNING_KEY,
    creatingTimeoutMs: 60_000,
    turns: TURNS,
  });
  webApp = await buildApp({
    db: pool,
    masterKey: MASTER_KEY,
    secretStore: webStore,
    log: webLog,
    ...web.api,
  });
  const webPort = await freeLoopbackPort();
  await webApp.listen({ port: webPort, host: '127.0.0.1' });
  webUrl = `http://127.0.0.1:${webPort}`;
});

afterAll(async () => {
  await webApp?.close();
  await worker?.stop(2000);
  await launcher?.stopAll('test over');
  await internalApp?.close();
  await pool?.end();
  await database?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function newAgent(): Promise<string> {
  const agent = await api<{ id: string }>(webUrl, 'POST', `${BASE}/agents`, {
    model: 'anthropic/claude-haiku-4-5',
    prompt: 'Be brief.',
  });
  expect(agent.status).toBe(201);
  return agent.body.id;
}

it('a session with per-session env vars, created through a web that cannot launch, is served end to end', async () => {
  const agentId = await newAgent();
  const created = await api<{ id: string; status: string }>(
    webUrl,
    'POST',
    `${BASE}/agents/${agentId}/session`,
    {
      env_vars: { CI_TOKEN: REAL_CI_TOKEN },
      env_var_hosts: { CI_TOKEN: ['ci.example.com'] },
    },
  );
  expect(created.status).toBe(201);
  expect(created.body.status).toBe('creating');
  const id = created.body.id;
  await waitFor(
    async () =>
      (await api<{ status: string }>(webUrl, 'GET', `${BASE}/sessions/${id}`)).body.status === 'ready',
    30_000,
    'ready',
  );
  // The vault got the session's value: the harness holds its stub.
  const stubs = fs.readFileSync(path.join(dataDir, 'sandboxes', id, 'env', 'vault.env'), 'utf8');
  expect(stubs).toMatch(/^CI_TOKEN=stub_/m);
  const reply = await api<{ parts: Array<{ text: string }> }>(
    webUrl,
    'POST',
    `${BASE}/sessions/${id}/message`,
    {
      text: 'hello',
    },
  );
  expect(reply.status).toBe(200);
  expect(reply.body.parts[0]!.text).toBe('echo: hello');

  // Diagnose through the web: the log lines come from the worker.
  const diagnosis = await api<{ recent_logs: string[]; recent_logs_error: string | null }>(
    webUrl,
    'GET',
    `${BASE}/sessions/${id}/diagnose`,
  );
  expect(diagnosis.status).toBe(200);
  expect(diagnosis.body.recent_logs_error).toBeNull();
  expect(diagnosis.body.recent_logs.join('\n')).toContain('fake harness listening');
  expect(refused).toEqual([]); // the web never tried to launch or read logs

  expect((await api(webUrl, 'POST', `${BASE}/sessions/${id}/stop`)).status).toBe(200);

  // What crossed the private call was sealed, and neither it nor the value is kept anywhere.
  expect(webStore.sealed).toHaveLength(1);
  const sealed = webStore.sealed[0]!;
  expect(sealed).not.toContain(REAL_CI_TOKEN);
  const tables = await pool.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`,
  );
  let everything = '';
  for (const { tablename } of tables.rows)
    everything += (await pool.query(`SELECT t::text AS row FROM "${tablename}" t`)).rows
      .map((r) => r.row)
      .join('\n');
  expect(everything).toContain(id); // the search does see the session
  expect(everything).not.toContain(sealed);
  expect(everything).not.toContain(sealed.split(':').pop()!);
  expect(everything).not.toContain(REAL_CI_TOKEN);
  const logs = logLines.join('');
  expect(logs).toContain(id);
  expect(logs).not.toContain(sealed.split(':').pop()!);
  expect(logs).not.toContain(REAL_CI_TOKEN);

  // Nor on disk: this database's files and the server's WAL, once PostgreSQL wrote its buffers,
  // and the sandbox's folder (its vault got the value in memory only).
  await pool.query('CHECKPOINT');
  const { rows } = await pool.query<{ oid: string }>(
    'SELECT oid::text FROM pg_database WHERE datname = current_database()',
  );
  const pgData = process.env.LAP_TEST_PG_DATA_DIR!;
  const onDisk = [path.join(pgData, 'base', rows[0]!.oid), path.join(pgData, 'pg_wal'), dataDir];
  expect(filesContaining(onDisk, id).length).toBeGreaterThan(0); // the search does see the session
  expect(filesContaining(onDisk, REAL_CI_TOKEN)).toEqual([]);
  expect(filesContaining(onDisk, sealed.split(':').pop()!)).toEqual([]);
});

it('a job the web queues wakes a worker in idle back-off at once', async () => {
  const agentId = await newAgent();
  // Let the worker back off: its next look is at least 6 s away.
  await waitFor(async () => worker.runner.currentWaitMs >= 6000, 30_000, 'the worker to back off');
  const started = Date.now();
  const created = await api<{ id: string }>(webUrl, 'POST', `${BASE}/agents/${agentId}/session`, {});
  expect(created.status).toBe(201);
  await waitFor(
    async () =>
      (
        await pool.query(`SELECT 1 FROM jobs WHERE session_id = $1 AND locked_by IS NOT NULL`, [
          created.body.id,
        ])
      ).rowCount === 1,
    3000,
    'the bring-up job to be claimed',
  );
  expect(Date.now() - started).toBeLessThan(3000);
  await api(webUrl, 'POST', `${BASE}/sessions/${created.body.id}/stop`);
});

it('only a signed call from the web hands the worker a session', async () => {
  const agentId = await newAgent();
  const sessionId = crypto.randomUUID();
  const route = '/api/v1/internal/worker/sessions';
  const body = JSON.stringify({
    session_id: sessionId,
    agent_id: agentId,
    title: null,
    initial_prompt: null,
    sealed_env: 'lap:v1:aes-256-gcm:x:y:z:w',
  });
  const post = (authorization: string | undefined, payload = body) =>
    fetch(`${internalUrl}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: payload,
    });
  // A sandbox's own token, none, and a token signed for another body (a replay, altered).
  expect((await post(`Bearer ${callbackToken(SIGNING_KEY, sessionId)}`)).status).toBe(401);
  expect((await post(undefined)).status).toBe(401);
  const signed = signWorkerCall(SIGNING_KEY, { method: 'POST', path: route, body });
  expect((await post(`Bearer ${signed}`, body.replace('"title":null', '"title":"x"'))).status).toBe(401);
  const stale = signWorkerCall(SIGNING_KEY, { method: 'POST', path: route, body }, Date.now() - 120_000);
  expect((await post(`Bearer ${stale}`)).status).toBe(401);
  // Signed right, but the seal is not one for this session: refused, nothing created.
  const forged = await post(`Bearer ${signed}`);
  expect(forged.status).toBe(400);
  expect((await pool.query('SELECT 1 FROM sessions WHERE id = $1', [sessionId])).rowCount).toBe(0);
});

it('when no worker answers, the client gets a 503 and nothing is stored', async () => {
  const agentId = await newAgent();
  const deadPort = await freeLoopbackPort();
  const lonely = createWebRuntime({
    db: pool,
    sandboxes: launcher,
    secretStore: webStore,
    log: logTo('lonely-web'),
    worker: new WorkerLink({ baseUrl: `http://127.0.0.1:${deadPort}`, signingKey: SIGNING_KEY, attempts: 2 }),
    signingKey: SIGNING_KEY,
    creatingTimeoutMs: 60_000,
    turns: TURNS,
  });
  const app = await buildApp({
    db: pool,
    masterKey: MASTER_KEY,
    secretStore: webStore,
    log: logTo('lonely-web'),
    ...lonely.api,
  });
  const port = await freeLoopbackPort();
  await app.listen({ port, host: '127.0.0.1' });
  try {
    const before = await pool.query(
      'SELECT (SELECT count(*) FROM sessions) AS s, (SELECT count(*) FROM jobs) AS j',
    );
    const res = await api<{ error: string }>(
      `http://127.0.0.1:${port}`,
      'POST',
      `${BASE}/agents/${agentId}/session`,
      {
        env_vars: { CI_TOKEN: REAL_CI_TOKEN },
      },
    );
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/no worker took the session \(ECONNREFUSED\).*nothing was stored/);
    const after = await pool.query(
      'SELECT (SELECT count(*) FROM sessions) AS s, (SELECT count(*) FROM jobs) AS j',
    );
    expect(after.rows[0]).toEqual(before.rows[0]);
  } finally {
    await app.close();
  }
});
