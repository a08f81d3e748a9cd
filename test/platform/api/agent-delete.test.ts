import crypto from 'node:crypto';
import pino from 'pino';
import type pg from 'pg';
import { buildApp } from '../../../platform/src/api/app';
import { createPool } from '../../../platform/src/db/pool';
import { LocalSecretStore } from '../../../platform/src/secrets/local';
import type { SessionRuntime } from '../../../platform/src/worker/runtime';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { MemoryLauncher } from '../ecs/support/memory-launcher';
import { AUTH, memoryRuntime, request } from './test-api';

/**
 * Agent delete with the runtime's real session service (SessionManager), over an
 * in-memory launcher: the agent's live sessions end and every sandbox tagged with
 * the agent (sessions and warm ones) is stopped before the row goes.
 */
let database: TestDatabase;
let pool: pg.Pool;
let runtime: SessionRuntime;
let launcher: MemoryLauncher;
let baseUrl: string;
let close: () => Promise<void>;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool({ url: database.url, max: 4 });
  launcher = new MemoryLauncher();
  const log = pino({ level: 'silent' });
  const secretStore = new LocalSecretStore(crypto.randomBytes(32));
  runtime = memoryRuntime(pool, { launcher, log, secretStore });
  // The worker is not started: bring-up jobs stay queued, the sandboxes below are placed by hand.
  const app = await buildApp({
    db: pool,
    masterKey: AUTH.authorization.slice(7),
    secretStore,
    log,
    ...runtime.api,
  });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  close = async () => {
    await app.close();
    await runtime.stop(1000);
    await pool.end();
    await database.drop();
  };
});
afterAll(async () => {
  await close();
});

const call = (method: string, url: string, payload?: unknown) =>
  request(baseUrl, { method, url, payload, headers: AUTH });

test('DELETE /agents/{id} stops its sessions and its sandboxes through the real session service', async () => {
  const agent = (await call('POST', '/api/v1/managed_agents/agents', { model: 'm' })).json();
  const other = (await call('POST', '/api/v1/managed_agents/agents', { model: 'm' })).json();

  const created = await call('POST', `/v1/managed_agents/agents/${agent.id}/session`, { title: 't' });
  expect(created.statusCode).toBeLessThan(300);
  const sessionId: string = created.json().id;
  const { ref: sessionRef } = await launcher.launch({
    sandboxId: sessionId,
    kind: 'session',
    agentId: agent.id,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });
  await pool.query("UPDATE sessions SET status = 'ready', sandbox_ref = $2 WHERE id = $1", [
    sessionId,
    sessionRef,
  ]);
  const { ref: warmRef } = await launcher.launch({
    sandboxId: crypto.randomUUID(),
    kind: 'warm',
    agentId: agent.id,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });
  const { ref: otherRef } = await launcher.launch({
    sandboxId: crypto.randomUUID(),
    kind: 'warm',
    agentId: other.id,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });

  const deleted = await call('DELETE', `/api/v1/managed_agents/agents/${agent.id}`);
  expect(deleted.statusCode).toBe(204);

  const stopped = launcher.stops.map((s) => s.ref);
  expect(stopped).toEqual(expect.arrayContaining([sessionRef, warmRef]));
  expect(stopped).not.toContain(otherRef);
  expect((await launcher.describe(sessionRef))!.lifecycle).toBe('stopped');
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM sessions WHERE agent_id = $1', [
    agent.id,
  ]);
  expect(rows[0].n).toBe(0);
  expect((await call('GET', `/api/v1/managed_agents/sessions/${sessionId}`)).statusCode).toBe(404);
  expect((await call('GET', `/api/v1/managed_agents/agents/${other.id}`)).statusCode).toBe(200);
});

test('with the runtime plugged in, the OpenAPI document also covers its session routes', async () => {
  const res = await call('GET', '/api/v1/openapi.json');
  expect(res.statusCode).toBe(200);
  const paths = Object.keys(res.json().paths);
  expect(paths).toEqual(
    expect.arrayContaining(['/api/v1/managed_agents/agents', '/api/v1/managed_agents/agents/{id}/session']),
  );
});
