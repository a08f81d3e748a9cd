/**
 * The real sandbox: the local launcher runs sandbox/vault and sandbox/harness (opencode)
 * as processes. The harness only ever holds a stub of the gateway key; the fake gateway
 * must see the real key, swapped in by the vault.
 */
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import {
  BASE,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

const REAL_KEY = 'sk-real-gateway-key-1234567890';

describe('sessions on the real vault and harness', () => {
  let fx: RuntimeFixture;
  let gateway: FakeLlmGateway;

  beforeAll(async () => {
    gateway = await startFakeLlmGateway();
    fx = await startRuntimeFixture({
      realHarness: { gatewayUrl: `${gateway.url}/v1`, gatewayKey: REAL_KEY },
      creatingTimeoutMs: 120_000,
    });
  });
  afterAll(async () => {
    await fx?.close();
    await gateway?.close();
  });

  it('boots opencode to ready, answers a message through the gateway with the real key swapped in by the vault', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'test-model',
      harness_id: 'opencode',
      prompt: 'Be brief.',
    });
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
    const ready = await waitForStatus(fx, created.body.id, ['ready', 'failed'], 90_000);
    if (ready.status !== 'ready')
      console.log((await fx.launcher.recentLogs(`local:${created.body.id}`, 40)).join('\n'));
    expect(ready.failure_reason).toBeNull();
    expect(ready.status).toBe('ready');
    const reply = await fx.api<{ parts: Array<{ type: string; text?: string }> }>(
      'POST',
      `${BASE}/sessions/${created.body.id}/message`,
      { text: 'Say hello' },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.parts.map((p) => p.text ?? '').join('')).toContain('fake-llm: Say hello');
    expect(gateway.credentials().length).toBeGreaterThan(0);
    expect(gateway.credentials().every((a) => a.includes(REAL_KEY))).toBe(true);
    const stopped = await fx.api<ApiSessionBody>('POST', `${BASE}/sessions/${created.body.id}/stop`);
    expect(stopped.body.status).toBe('dead');
  }, 150_000);
});
