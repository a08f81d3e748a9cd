/**
 * Chaos: local mode stopped and started again with warm sandboxes in its database.
 * Its sandboxes are processes of the old run, gone with it; a session created after
 * the restart must never be handed one of them (it was: 2 of 2 warm sandboxes dead on
 * arrival), and the warm rows end with the reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../../../platform/src/sandbox/local/free-port';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import {
  killLocalMode,
  localApi,
  startLocalMode,
  waitHealthy,
  type LocalMode,
} from '../runtime/support/local-mode';

const MASTER_KEY = 'local-restart-master-key';

describe('local mode restarted with warm sandboxes', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-restart-'));
  let mode: LocalMode | undefined;
  let gateway: FakeLlmGateway;
  let port: number;

  afterAll(async () => {
    await killLocalMode(mode);
    await gateway?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const api = <T>(method: string, route: string, body?: unknown) =>
    localApi(port, () => MASTER_KEY)<T>(method, route, body);
  const warmCount = async () =>
    (await api<{ warm_pool: { warm: number } }>('GET', '/api/v1/admin/stats')).body.warm_pool.warm;
  const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`timed out waiting for ${what}:\n${mode?.output().split('\n').slice(-30).join('\n')}`);
  };

  it('ends the warm rows of the previous run at start; the next session gets a live sandbox', async () => {
    gateway = await startFakeLlmGateway();
    port = await freeLoopbackPort();
    const env = {
      MASTER_KEY,
      LITELLM_API_BASE: `${gateway.url}/v1`,
      LITELLM_API_KEY: 'sk-restart-gateway',
      WARM_POOL_SIZE: '2',
    };
    mode = startLocalMode(dataDir, port, env);
    await waitHealthy(port, mode);
    const agent = await api<{ id: string }>('POST', '/api/v1/managed_agents/agents', {
      model: 'test-model',
      harness_id: 'claude-agent-sdk',
    });
    // A first session makes the agent eligible; its claim miss queues a top-up.
    await api('POST', `/api/v1/managed_agents/agents/${agent.body.id}/session`, {});
    await until('2 warm sandboxes', async () => (await warmCount()) === 2, 120_000);

    mode.child.kill('SIGTERM');
    expect(await mode.exited).toBe(0);
    mode = startLocalMode(dataDir, port, env);
    await waitHealthy(port, mode);
    expect(
      (await api<{ warm_pool: { dead: number } }>('GET', '/api/v1/admin/stats')).body.warm_pool.dead,
    ).toBeGreaterThanOrEqual(2);

    const session = await api<{ id: string; status: string }>(
      'POST',
      `/api/v1/managed_agents/agents/${agent.body.id}/session`,
      {},
    );
    expect(session.status).toBe(201);
    const reply = await api<{ parts?: Array<{ text?: string }>; error?: string }>(
      'POST',
      `/api/v1/managed_agents/sessions/${session.body.id}/message`,
      { text: 'are you alive?' },
    );
    expect(reply.body.error).toBeUndefined();
    expect(reply.status).toBe(200);
    expect(JSON.stringify(reply.body.parts)).toContain('fake-llm: are you alive?');
    mode.child.kill('SIGTERM');
    expect(await mode.exited).toBe(0);
  }, 300_000);
});
