/**
 * A running control plane for runtime tests: its own migrated database, the real
 * API (buildApp) listening on a loopback port, the internal listener (buildInternalApp:
 * sandbox callbacks, web -> worker calls) on another, the session runtime with its job
 * runner, and the local launcher running sandboxes as processes (the fakes in this
 * folder, or the real vault and harness).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type pg from 'pg';
import { createCertificateAuthority } from '../../../../sandbox/vault/src/ca';
import { buildApp, buildInternalApp } from '../../../../platform/src/api/app';
import { createPool } from '../../../../platform/src/db/pool';
import { LocalSandboxLauncher } from '../../../../platform/src/sandbox/local/local-launcher';
import { freeLoopbackPort } from '../../../../platform/src/sandbox/local/free-port';
import { LocalSecretStore } from '../../../../platform/src/secrets/local';
import { endWhatSandboxServed } from '../../../../platform/src/lifecycle/sandbox-stopped';
import { DatabaseWarmPool, runWarmPoolPass } from '../../../../platform/src/warm-pool/warm-pool';
import { createSessionRuntime, type SessionRuntime } from '../../../../platform/src/worker/runtime';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

export const MASTER_KEY = 'test-master-key';
/** The API's prefix, as the routes serve it. */
export const BASE = '/api/v1/managed_agents';
export const SIGNING_KEY = 'test-signing-key-0123456789';

export interface FixtureOptions {
  harnessMode?: 'normal' | 'fail_boot' | 'silent' | 'hang';
  creatingTimeoutMs?: number;
  leaseMs?: number;
  startWorker?: boolean;
  /** WARM_POOL_SIZE of the fixture's warm pool (0: off, but warm sandbox ids still resolve). */
  warmPoolSize?: number;
  /** Run the real harness (sandbox/harness) instead of the double, against this gateway. */
  realHarness?: { gatewayUrl: string; gatewayKey: string };
  /** Extra environment for the sandbox processes. */
  sandboxEnv?: Record<string, string>;
  /** TURN_TIMEOUT_MS and HARNESS_STALL_GRACE_MS of the fixture's runtime. */
  turnTimeoutMs?: number;
  stallGraceMs?: number;
  /** The platform's git token setting (PlatformConfig.git): the vaults hold it as REAL_/HOST_GIT_TOKEN. */
  git?: { token: string | undefined; hosts: string[] };
}

export interface RuntimeFixture {
  baseUrl: string;
  /** The internal listener: what sandboxes get as CALLBACK_URL. */
  callbackUrl: string;
  dataDir: string;
  database: TestDatabase;
  pool: pg.Pool;
  launcher: LocalSandboxLauncher;
  runtime: SessionRuntime;
  app: FastifyInstance;
  internalApp: FastifyInstance;
  caCertPem: string;
  /** One warm pool pass (recycle + top-up), as the scheduler runs it. */
  warmPoolPass(): Promise<unknown>;
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

const SUPPORT = __dirname;

export async function startRuntimeFixture(options: FixtureOptions = {}): Promise<RuntimeFixture> {
  const database = await createTestDatabase();
  const pool = createPool({ url: database.url, max: 5 });
  const port = await freeLoopbackPort();
  const internalPort = await freeLoopbackPort();
  const log = pino({ level: 'silent' });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-runtime-'));
  const ca = createCertificateAuthority();
  const caCertPath = path.join(dataDir, 'ca.pem');
  const caKeyPath = path.join(dataDir, 'ca-key.pem');
  fs.writeFileSync(caCertPath, ca.certPem);
  fs.writeFileSync(caKeyPath, ca.keyPem, { mode: 0o600 });
  const launcher = new LocalSandboxLauncher({
    dataDir,
    caCertPath,
    caKeyPath,
    litellm: options.realHarness
      ? { apiBase: options.realHarness.gatewayUrl, apiKey: options.realHarness.gatewayKey }
      : { apiBase: 'http://127.0.0.1:9', apiKey: 'sk-test-gateway-key' },
    git: options.git,
    harnessEntry: options.realHarness ? undefined : path.join(SUPPORT, 'fake-harness.ts'),
    extraEnv: { FAKE_HARNESS_MODE: options.harnessMode ?? 'normal', ...options.sandboxEnv },
    onUnexpectedStop: (state) => void endWhatSandboxServed({ db: pool, log }, state),
  });
  const warmSettings = {
    size: options.warmPoolSize ?? 0,
    recentAgentHours: 24,
    maxProvisioning: 2,
    ttlMinutes: 30,
  };
  const warmPool = new DatabaseWarmPool({ db: pool, launcher, log, settings: warmSettings });
  const secretStore = new LocalSecretStore(Buffer.alloc(32, 7));
  const callbackUrl = `http://127.0.0.1:${internalPort}`;
  const creatingTimeoutMs = options.creatingTimeoutMs ?? 60_000;
  const runtime = createSessionRuntime({
    db: pool,
    warmPool: { pool: warmPool, settings: warmSettings },
    launcher,
    secretStore,
    log,
    signingKey: SIGNING_KEY,
    callbackUrl,
    // As a deployment sets BASE_URL: tty_url is absolute.
    publicUrl: `http://127.0.0.1:${port}`,
    vaultCaCertPem: ca.certPem,
    creatingTimeoutMs,
    turns: {
      turnTimeoutMs: options.turnTimeoutMs ?? 60_000,
      stallGraceMs: options.stallGraceMs ?? 30_000,
      pollMs: 100,
    },
    bootSpec: {
      litellmApiBase: options.realHarness?.gatewayUrl ?? 'http://127.0.0.1:9',
      preinstalledGithubRepo: undefined,
    },
    leaseMs: options.leaseMs ?? 3000,
    polling: { busyMs: 100, idleMaxMs: 100 },
    bringUpPollMs: 100,
  });
  const app = await buildApp({
    db: pool,
    masterKey: MASTER_KEY,
    secretStore,
    log,
    ...runtime.api,
  });
  await app.listen({ port, host: '127.0.0.1' });
  const internalApp = await buildInternalApp({ log, ...runtime.internal });
  await internalApp.listen({ port: internalPort, host: '127.0.0.1' });
  if (options.startWorker !== false) runtime.startWorker();
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    callbackUrl,
    dataDir,
    database,
    pool,
    launcher,
    runtime,
    app,
    internalApp,
    caCertPem: ca.certPem,
    warmPoolPass: () => runWarmPoolPass({ db: pool, launcher, settings: warmSettings, log }),
    api: masterKeyApi(baseUrl, MASTER_KEY),
    async close() {
      await runtime.stop(2000);
      await launcher.stopAll('test over');
      await app.close();
      await internalApp.close();
      await pool.end();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** JSON calls to a public listener with the master key; the body of an empty answer is null. */
export function masterKeyApi(baseUrl: string, masterKey: string) {
  return async <T = unknown>(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${baseUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${masterKey}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
}

/** Polls `fn` until it returns a truthy value, or throws after `timeoutMs` with the last value. */
export async function waitFor<T>(
  fn: () => Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

export interface ApiSessionBody {
  id: string;
  status: string;
  phase: string;
  failure_reason: string | null;
  response: { parts: Array<{ type: string; text?: string }> } | null;
  /** Always null in the public view: the sandbox's task and address are in diagnose. */
  task_arn: null;
  sandbox_url: null;
}

/** The session's sandbox (launcher ref, `task_arn` on AWS) as diagnose shows it to operators. */
export async function sandboxRefOf(fx: RuntimeFixture, sessionId: string): Promise<string> {
  const { body } = await fx.api<{ session: { task_arn: string | null } }>(
    'GET',
    `${BASE}/sessions/${sessionId}/diagnose`,
  );
  if (!body.session.task_arn) throw new Error(`session ${sessionId} has no sandbox`);
  return body.session.task_arn;
}

export async function waitForStatus(
  fx: RuntimeFixture,
  sessionId: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<ApiSessionBody> {
  return waitFor<ApiSessionBody | null>(
    async () => {
      const { body } = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${sessionId}`);
      return statuses.includes(body.status) ? body : null;
    },
    timeoutMs,
    `session ${sessionId} to be ${statuses.join('/')}`,
  ) as Promise<ApiSessionBody>;
}
