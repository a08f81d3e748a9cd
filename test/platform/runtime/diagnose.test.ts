import { detectIssues, type HarnessProbe } from '../../../platform/src/diagnose/diagnose';
import type { SessionRow } from '../../../platform/src/db/sessions';
import type { SandboxState } from '../../../platform/src/sandbox/launcher';
import {
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

/** The parts of the diagnose answer these tests read. */
interface Diagnosis {
  session: { id: string; status: string };
  agent: { id: string; env_vars: Record<string, string> };
  sandbox: { lifecycle: string; ref: string };
  recent_logs: string[];
  warm_pool: unknown;
  harness_probe: { reachable: boolean; status: string | null };
  detected_issues: string[];
}

const NOW = Date.parse('2026-01-01T12:00:00Z');
const session = (over: Partial<SessionRow>): SessionRow =>
  ({
    id: 's',
    agent_id: 'a',
    status: 'creating',
    phase: 'pod_pending',
    created_at: new Date(NOW - 10_000),
    sandbox_ref: 'task/1',
    ...over,
  }) as SessionRow;
const sandbox = (over: Partial<SandboxState>): SandboxState => ({
  ref: 'task/1',
  lifecycle: 'running',
  tags: {},
  harnessUrl: 'http://10.0.0.1:4096',
  vaultAdminUrl: 'https://10.0.0.1:14323',
  startedAt: null,
  stoppedAt: null,
  stopReason: null,
  failure: null,
  ...over,
});
const up: HarnessProbe = { url: 'http://10.0.0.1:4096', reachable: true, status: 'ok', latency_ms: 3 };
const down: HarnessProbe = { url: 'http://10.0.0.1:4096', reachable: false, status: null, latency_ms: null };
const poolOff = { enabled: false, counts: { provisioning: 0, warm: 0, claimed: 0, dead: 0 } };
const codes = (input: Parameters<typeof detectIssues>[0]) => detectIssues(input).map((i) => i.code);

describe('detectIssues', () => {
  it('maps launcher failures onto the diagnose codes', () => {
    const failed = sandbox({
      lifecycle: 'stopped',
      failure: { code: 'image_pull_failed', message: 'CannotPullContainerError' },
    });
    expect(
      codes({ session: session({}), sandbox: failed, probe: down, warmPool: poolOff, now: NOW }),
    ).toContain('pod_image_pull_backoff');
    const capacity = sandbox({
      lifecycle: 'stopped',
      failure: { code: 'capacity_unavailable', message: 'no Spot capacity' },
    });
    expect(
      codes({ session: session({}), sandbox: capacity, probe: down, warmPool: poolOff, now: NOW }),
    ).toContain('fargate_capacity_unavailable');
  });

  it('pod_not_ready_old after 180 s, stale_creating after 120 s with a healthy harness, harness_unreachable', () => {
    const old = session({ created_at: new Date(NOW - 200_000) });
    expect(
      codes({
        session: old,
        sandbox: sandbox({ lifecycle: 'pending' }),
        probe: down,
        warmPool: poolOff,
        now: NOW,
      }),
    ).toEqual(['pod_not_ready_old']);
    const stale = session({ created_at: new Date(NOW - 130_000), phase: 'installing_deps' });
    expect(codes({ session: stale, sandbox: sandbox({}), probe: up, warmPool: poolOff, now: NOW })).toEqual([
      'stale_creating',
    ]);
    expect(
      codes({
        session: session({ status: 'ready', phase: 'ready' }),
        sandbox: sandbox({}),
        probe: down,
        warmPool: poolOff,
        now: NOW,
      }),
    ).toEqual(['harness_unreachable']);
    // Young and healthy: nothing to report, bring-up is still going.
    expect(
      codes({
        session: session({}),
        sandbox: sandbox({ lifecycle: 'pending' }),
        probe: down,
        warmPool: poolOff,
        now: NOW,
      }),
    ).toEqual([]);
  });

  it('warm_pool_empty_for_agent only while the pool is enabled', () => {
    const empty = { enabled: true, counts: { provisioning: 1, warm: 0, claimed: 0, dead: 0 } };
    expect(
      codes({
        session: session({}),
        sandbox: sandbox({ lifecycle: 'pending' }),
        probe: down,
        warmPool: empty,
        now: NOW,
      }),
    ).toEqual(['warm_pool_empty_for_agent']);
  });
});

describe('GET /sessions/{id}/diagnose', () => {
  let fx: RuntimeFixture;
  beforeAll(async () => {
    fx = await startRuntimeFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('returns rows, sandbox state, logs, warm pool counts, a live probe, and issues; secrets redacted', async () => {
    const agent = await fx.api<{ id: string }>('POST', '/api/v1/managed_agents/agents', {
      model: 'm',
      env_vars: { TOKEN: 'diagnose-secret-value' },
    });
    const created = await fx.api<ApiSessionBody>(
      'POST',
      `/api/v1/managed_agents/agents/${agent.body.id}/session`,
      {},
    );
    await waitForStatus(fx, created.body.id, ['ready']);
    const res = await fx.api<Diagnosis>('GET', `/v1/managed_agents/sessions/${created.body.id}/diagnose`);
    expect(res.status).toBe(200);
    expect(res.body.session).toMatchObject({ id: created.body.id, status: 'ready' });
    expect(res.body.agent).toMatchObject({ id: agent.body.id, env_vars: { TOKEN: '<redacted>' } });
    expect(res.body.sandbox).toMatchObject({ lifecycle: 'running', ref: `local:${created.body.id}` });
    expect(res.body.recent_logs.join('\n')).toMatch(/\[harness\] fake harness listening/);
    expect(res.body.warm_pool).toEqual({
      enabled: false,
      counts: { provisioning: 0, warm: 0, claimed: 0, dead: 0 },
    });
    expect(res.body.harness_probe).toMatchObject({ reachable: true, status: 'ok' });
    expect(res.body.detected_issues).toEqual([]);
    expect(JSON.stringify(res.body)).not.toContain('diagnose-secret-value');
    expect(JSON.stringify(res.body)).not.toContain('ciphertext');

    await fx.launcher.stop(`local:${created.body.id}`, 'test');
    const gone = await fx.api<Diagnosis>(
      'GET',
      `/api/v1/managed_agents/sessions/${created.body.id}/diagnose`,
    );
    expect(gone.body.detected_issues).toEqual(['sandbox_gone']);
    expect(gone.body.harness_probe.reachable).toBe(false);
    expect(
      (await fx.api('GET', '/api/v1/managed_agents/sessions/00000000-0000-4000-8000-000000000000/diagnose'))
        .status,
    ).toBe(404);
  });
});
