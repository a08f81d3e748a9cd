import { callbackToken } from '../../../platform/src/sandbox/tokens';
import {
  BASE,
  SIGNING_KEY,
  startRuntimeFixture,
  waitForStatus,
  type RuntimeFixture,
} from './support/runtime-fixture';

describe('internal sandbox routes', () => {
  let fx: RuntimeFixture;
  let sessionId: string;
  let agentId: string;

  beforeAll(async () => {
    // No worker: the session stays creating, so phase reports are applied by the routes alone.
    fx = await startRuntimeFixture({ startWorker: false });
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'anthropic/claude-haiku-4-5',
      prompt: 'Be brief.',
      env_vars: { SECRET_KEY: 'super-secret-value' },
    });
    agentId = agent.body.id;
    await fx.api(`POST`, `${BASE}/agents/${agentId}/memory`, { text: 'The build uses pnpm.', priority: 5 });
    const created = await fx.api<{ id: string }>('POST', `${BASE}/agents/${agentId}/session`, {});
    sessionId = created.body.id;
  });
  afterAll(async () => {
    await fx?.close();
  });

  async function call(method: string, route: string, token?: string, body?: unknown) {
    const res = await fetch(`${fx.callbackUrl}${route}`, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  it("rejects a missing, wrong, or another sandbox's token, and the master key", async () => {
    const spec = `/api/v1/internal/sandboxes/${sessionId}/spec`;
    expect((await call('GET', spec)).status).toBe(401);
    expect((await call('GET', spec, 'nope')).status).toBe(401);
    expect((await call('GET', spec, callbackToken(SIGNING_KEY, agentId))).status).toBe(401);
    expect((await call('GET', spec, 'test-master-key')).status).toBe(401);
    expect((await call('GET', spec, callbackToken('another-signing-key-123456', sessionId))).status).toBe(
      401,
    );
    const phase = `/api/v1/internal/sandboxes/${sessionId}/phase`;
    expect((await call('POST', phase, 'nope', { phase: 'cloning_repo' })).status).toBe(401);
    expect((await call('GET', '/api/v1/internal/sandboxes/not-a-uuid/spec', 'x')).status).toBe(401);
  });

  it('serves the boot spec without secret values, with memories in the prompt, under both prefixes', async () => {
    const token = callbackToken(SIGNING_KEY, sessionId);
    for (const prefix of ['/api/v1', '/v1']) {
      const res = await call('GET', `${prefix}/internal/sandboxes/${sessionId}/spec`, token);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        sandbox_id: sessionId,
        agent_id: agentId,
        harness_id: 'opencode',
        model: 'anthropic/claude-haiku-4-5',
        branch: 'main',
        repo_url: null,
        litellm_api_base: 'http://127.0.0.1:9',
        files: [],
      });
      expect(res.body.prompt).toBe(
        'Be brief.\n\n<!-- memories -->\nThings to remember about this work:\n- The build uses pnpm.',
      );
      expect(JSON.stringify(res.body)).not.toContain('super-secret-value');
    }
  });

  it('applies phase reports in order only, 404s unknown sandboxes, validates the body', async () => {
    const token = callbackToken(SIGNING_KEY, sessionId);
    const phase = `/api/v1/internal/sandboxes/${sessionId}/phase`;
    expect((await call('POST', phase, token, { phase: 'installing_deps', detail: 'pip' })).status).toBe(204);
    expect((await call('POST', phase, token, { phase: 'cloning_repo' })).status).toBe(204); // late: ignored
    const session = await fx.api<{ phase: string; phase_detail: string }>(
      'GET',
      `${BASE}/sessions/${sessionId}`,
    );
    expect(session.body).toMatchObject({ phase: 'installing_deps', phase_detail: 'pip' });
    const bad = await call('POST', phase, token, { phase: 'ready' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^phase: /);
    const unknown = '22222222-2222-4222-8222-222222222222';
    expect(
      (
        await call(
          'POST',
          `/api/v1/internal/sandboxes/${unknown}/phase`,
          callbackToken(SIGNING_KEY, unknown),
          { phase: 'cloning_repo' },
        )
      ).status,
    ).toBe(404);
  });

  it('a failed report fails the session with its reason', async () => {
    const token = callbackToken(SIGNING_KEY, sessionId);
    const res = await call('POST', `/api/v1/internal/sandboxes/${sessionId}/phase`, token, {
      phase: 'failed',
      failure_reason: 'pip install failed',
    });
    expect(res.status).toBe(204);
    const failed = await waitForStatus(fx, sessionId, ['failed']);
    expect(failed.failure_reason).toBe('pip install failed');
  });

  it('resolves warm sandbox ids: harness_listening marks the row warm, failed marks it dead', async () => {
    // A warm sandbox that is running (has its address) and waits for its harness.
    const warm = await fx.pool.query<{ id: string }>(
      `INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, expires_at, sandbox_ref, sandbox_url)
       VALUES ($1, 'fp', now() + interval '30 minutes', 'local:x', 'http://127.0.0.1:1') RETURNING id`,
      [agentId],
    );
    const warmId = warm.rows[0]!.id;
    const token = callbackToken(SIGNING_KEY, warmId);
    const spec = await call('GET', `/api/v1/internal/sandboxes/${warmId}/spec`, token);
    expect(spec.status).toBe(200);
    expect(spec.body.sandbox_id).toBe(warmId);
    expect(
      (
        await call('POST', `/api/v1/internal/sandboxes/${warmId}/phase`, token, {
          phase: 'harness_listening',
        })
      ).status,
    ).toBe(204);
    const status = async () =>
      (await fx.pool.query('SELECT status, failure_reason FROM warm_sandboxes WHERE id = $1', [warmId]))
        .rows[0];
    expect((await status()).status).toBe('warm');
    const second = await fx.pool.query<{ id: string }>(
      `INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, expires_at) VALUES ($1, 'fp', now() + interval '30 minutes') RETURNING id`,
      [agentId],
    );
    const secondId = second.rows[0]!.id;
    expect(
      (
        await call(
          'POST',
          `/api/v1/internal/sandboxes/${secondId}/phase`,
          callbackToken(SIGNING_KEY, secondId),
          {
            phase: 'failed',
            failure_reason: 'clone failed',
          },
        )
      ).status,
    ).toBe(204);
    expect(
      (await fx.pool.query('SELECT status, failure_reason FROM warm_sandboxes WHERE id = $1', [secondId]))
        .rows[0],
    ).toEqual({
      status: 'dead',
      failure_reason: 'clone failed',
    });
  });
});
