/**
 * A session claims a warm sandbox (booted by the warm pool with the runtime's
 * bring-up steps) and is ready at once; its harness token derives from the warm
 * sandbox id. Sessions with per-session env vars never claim one.
 */
import {
  BASE,
  sandboxRefOf,
  startRuntimeFixture,
  waitFor,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

describe('warm sandbox claims', () => {
  let fx: RuntimeFixture;
  beforeAll(async () => {
    fx = await startRuntimeFixture({ warmPoolSize: 1 });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('claims a warm sandbox (ready at once, messages work), never with per-session env vars', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'm',
      env_vars: { K: 'agent' },
    });
    // A first (cold) session makes the agent recently active, so the pool warms one for it.
    const cold = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
    await waitForStatus(fx, cold.body.id, ['ready']);
    await fx.warmPoolPass();
    const warmId = await waitFor(async () => {
      const { rows } = await fx.pool.query(
        `SELECT id FROM warm_sandboxes WHERE agent_id = $1 AND status = 'warm'`,
        [agent.body.id],
      );
      return rows[0]?.id as string | undefined;
    }, 30_000);

    const withEnv = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {
      env_vars: { K: 'session' },
    });
    expect(withEnv.body.status).toBe('creating');

    const warm = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {
      initial_prompt: 'first words',
    });
    expect(warm.status).toBe(201);
    expect(warm.body).toMatchObject({ status: 'ready', phase: 'ready' });
    expect(await sandboxRefOf(fx, warm.body.id)).toBe(`local:${warmId}`);
    const claimed = await fx.pool.query('SELECT status, session_id FROM warm_sandboxes WHERE id = $1', [
      warmId,
    ]);
    expect(claimed.rows[0]).toEqual({ status: 'claimed', session_id: warm.body.id });
    const withPrompt = await waitFor(async () => {
      const { body } = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${warm.body.id}`);
      return body.response?.parts.some((p) => p.text === 'echo: first words') ? body : null;
    });
    expect(withPrompt.status).toBe('ready');
    const reply = await fx.api('POST', `${BASE}/sessions/${warm.body.id}/message`, {
      text: 'on a warm sandbox',
    });
    expect(reply).toEqual({
      status: 200,
      body: { parts: [{ type: 'text', text: 'echo: on a warm sandbox' }] },
    });
    await waitForStatus(fx, withEnv.body.id, ['ready']);
  }, 90_000);
});
