import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type pg from 'pg';
import { buildApp } from '../../../platform/src/api/app';
import { createPool } from '../../../platform/src/db/pool';
import { LocalSecretStore } from '../../../platform/src/secrets/local';
import { createSessionRuntime, type SessionRuntime } from '../../../platform/src/worker/runtime';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { MemoryLauncher } from '../ecs/support/memory-launcher';

export const MASTER_KEY = 'test-master-key-0123456789';
export const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

/** Which agents' sessions the API asked to stop (agent delete), recorded on the real session service. */
export interface StopRecorder {
  stoppedAgents: string[];
}

/** The real runtime on an in-memory launcher (its worker is the caller's to start). */
export function memoryRuntime(
  pool: pg.Pool,
  options: {
    launcher?: MemoryLauncher;
    log?: pino.Logger;
    secretStore?: LocalSecretStore;
    extra?: Partial<Parameters<typeof createSessionRuntime>[0]>;
  } = {},
): SessionRuntime {
  return createSessionRuntime({
    db: pool,
    launcher: options.launcher ?? new MemoryLauncher(),
    secretStore: options.secretStore ?? new LocalSecretStore(crypto.randomBytes(32)),
    log: options.log ?? pino({ level: 'silent' }),
    signingKey: 'test-signing-key-0123456789',
    callbackUrl: 'http://127.0.0.1:9',
    vaultCaCertPem: '',
    creatingTimeoutMs: 60_000,
    turns: { turnTimeoutMs: 60_000, stallGraceMs: 1000, pollMs: 100 },
    bootSpec: { litellmApiBase: 'http://127.0.0.1:9', preinstalledGithubRepo: undefined },
    ...options.extra,
  });
}

export interface CallOptions {
  method: string;
  url: string;
  /** An object is sent as JSON; a string as it is (with the content-type you give). */
  payload?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  statusCode: number;
  headers: Headers;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestApi {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> of the listening app. */
  baseUrl: string;
  pool: pg.Pool;
  database: TestDatabase;
  sessions: StopRecorder;
  secretStore: LocalSecretStore;
  /** One HTTP request to the listening app, with the master key unless `headers` overrides it. */
  call(options: CallOptions): Promise<CallResult>;
  /** The same without any default header. */
  raw(options: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

/**
 * The API on its own migrated database, with the real session runtime on an in-memory
 * launcher whose worker never runs. With `sharing`, a second web process on that API's
 * database and keys, as behind a load balancer; closing it leaves the database alone.
 */
export async function startTestApi(sharing?: TestApi): Promise<TestApi> {
  const database = sharing?.database ?? (await createTestDatabase());
  const pool = createPool({ url: database.url, max: 4 });
  const secretStore = sharing?.secretStore ?? new LocalSecretStore(crypto.randomBytes(32));
  const log = pino({ level: process.env.LAP_TEST_LOG_LEVEL ?? 'silent' });
  const runtime = memoryRuntime(pool, { secretStore, log });
  const sessions: StopRecorder = { stoppedAgents: [] };
  const stopAll = runtime.sessions.stopAllForAgent.bind(runtime.sessions);
  runtime.sessions.stopAllForAgent = async (agentId) => {
    sessions.stoppedAgents.push(agentId);
    await stopAll(agentId);
  };
  const app = await buildApp({ db: pool, masterKey: MASTER_KEY, secretStore, log, ...runtime.api });
  // A real listening server (light-my-request's inject cannot load its ESM deps under Jest).
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const raw = (options: CallOptions) => request(baseUrl, options);
  return {
    app,
    baseUrl,
    raw,
    pool,
    database,
    sessions,
    secretStore,
    call: (options) => raw({ ...options, headers: { ...AUTH, ...options.headers } }),
    async close() {
      await app.close();
      await pool.end();
      if (!sharing) await database.drop();
    },
  };
}

export interface RuntimeApi {
  baseUrl: string;
  pool: pg.Pool;
  launcher: MemoryLauncher;
  secretStore: LocalSecretStore;
  /** One request with the master key. */
  call(method: string, url: string, payload?: unknown): Promise<CallResult>;
  close(): Promise<void>;
}

/**
 * The API with the runtime's real session service (SessionManager) over an in-memory
 * launcher, on its own database. The worker is not started: bring-up jobs stay queued (and
 * per-session env vars in memory); tests place sandboxes by hand.
 */
export async function startRuntimeApi(): Promise<RuntimeApi> {
  const database = await createTestDatabase();
  const pool = createPool({ url: database.url, max: 4 });
  const launcher = new MemoryLauncher();
  const log = pino({ level: 'silent' });
  const secretStore = new LocalSecretStore(crypto.randomBytes(32));
  const runtime = memoryRuntime(pool, { launcher, log, secretStore });
  const app = await buildApp({ db: pool, masterKey: MASTER_KEY, secretStore, log, ...runtime.api });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    baseUrl,
    pool,
    launcher,
    secretStore,
    call: (method, url, payload) => request(baseUrl, { method, url, payload, headers: AUTH }),
    async close() {
      await app.close();
      await runtime.stop(1000);
      await pool.end();
      await database.drop();
    },
  };
}

export async function request(baseUrl: string, options: CallOptions): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (typeof options.payload === 'string') body = options.payload;
  else if (options.payload !== undefined) {
    body = JSON.stringify(options.payload);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${options.url}`, { method: options.method, headers, body });
  const text = await res.text();
  return {
    statusCode: res.status,
    headers: res.headers,
    body: text,
    json: () => JSON.parse(text),
  };
}
