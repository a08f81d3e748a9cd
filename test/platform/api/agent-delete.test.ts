import crypto from 'node:crypto';
import { startRuntimeApi, type RuntimeApi } from './test-api';

/**
 * Agent delete with the runtime's real session service (SessionManager), over an
 * in-memory launcher: the agent's live sessions end and every sandbox tagged with
 * the agent (sessions and warm ones) is stopped before the row goes.
 */
let api: RuntimeApi;
beforeAll(async () => {
  api = await startRuntimeApi();
});
afterAll(async () => {
  await api.close();
});

const call = (method: string, url: string, payload?: unknown) => api.call(method, url, payload);

test('DELETE /agents/{id} stops its sessions and its sandboxes through the real session service', async () => {
  const agent = (await call('POST', '/api/v1/managed_agents/agents', { model: 'm' })).json();
  const other = (await call('POST', '/api/v1/managed_agents/agents', { model: 'm' })).json();

  const created = await call('POST', `/v1/managed_agents/agents/${agent.id}/session`, { title: 't' });
  expect(created.statusCode).toBeLessThan(300);
  const sessionId: string = created.json().id;
  const { ref: sessionRef } = await api.launcher.launch({
    sandboxId: sessionId,
    kind: 'session',
    agentId: agent.id,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });
  await api.pool.query("UPDATE sessions SET status = 'ready', sandbox_ref = $2 WHERE id = $1", [
    sessionId,
    sessionRef,
  ]);
  const { ref: warmRef } = await api.launcher.launch({
    sandboxId: crypto.randomUUID(),
    kind: 'warm',
    agentId: agent.id,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });
  const { ref: otherRef } = await api.launcher.launch({
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

  const stopped = api.launcher.stops.map((s) => s.ref);
  expect(stopped).toEqual(expect.arrayContaining([sessionRef, warmRef]));
  expect(stopped).not.toContain(otherRef);
  expect((await api.launcher.describe(sessionRef))!.lifecycle).toBe('stopped');
  const { rows } = await api.pool.query('SELECT count(*)::int AS n FROM sessions WHERE agent_id = $1', [
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
