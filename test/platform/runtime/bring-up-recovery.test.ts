import { claimNextJob, enqueueClaimedJob } from '../../../platform/src/db/jobs';
import { SESSION_ENV_LOST_REASON } from '../../../platform/src/bring-up/targets';
import { insertSession, recordSandbox } from '../../../platform/src/db/sessions';
import { advancePhase } from '../../../platform/src/lifecycle/session-states';
import { launchSandbox } from '../../../platform/src/sandbox/bring-up';
import {
  BASE,
  SIGNING_KEY,
  startRuntimeFixture,
  waitFor,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

async function createAgent(fx: RuntimeFixture): Promise<string> {
  const res = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
    model: 'm',
    env_vars: { API_TOKEN: 'v' },
  });
  return res.body.id;
}

describe('bring-up after a worker died', () => {
  let fx: RuntimeFixture;
  beforeAll(async () => {
    fx = await startRuntimeFixture({ startWorker: false, leaseMs: 2000 });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('a job claimed by a runner that died is resumed by another once the lease lapses, replacing a half-made sandbox', async () => {
    const agentId = await createAgent(fx);
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    const sessionId = created.body.id;
    // The dead runner had claimed the job and launched a sandbox, but never pushed the vault secrets.
    const claimed = await claimNextJob(fx.pool, {
      workerId: 'dead',
      leaseMs: 300,
      kinds: ['session_bring_up'],
    });
    expect(claimed?.session_id).toBe(sessionId);
    const agent = (await fx.pool.query('SELECT * FROM agents WHERE id = $1', [agentId])).rows[0];
    const orphan = await launchSandbox(fx.launcher, {
      sandboxId: sessionId,
      kind: 'session',
      agent,
      signingKey: SIGNING_KEY,
      callbackUrl: fx.callbackUrl,
    });
    await recordSandbox(fx.pool, sessionId, { ref: orphan.ref });
    await advancePhase(fx.pool, sessionId, 'pod_running');
    const orphanPid = (await fx.launcher.describe(orphan.ref))!.startedAt;

    fx.runtime.startWorker();
    const ready = await waitForStatus(fx, sessionId, ['ready', 'failed']);
    expect(ready.failure_reason).toBeNull();
    expect(ready.status).toBe('ready');
    // A fresh sandbox: the old one could never get its secrets (its one-time vault token died with the runner).
    expect((await fx.launcher.describe(orphan.ref))!.startedAt!.getTime()).toBeGreaterThan(
      orphanPid!.getTime(),
    );
    const jobs = await fx.pool.query('SELECT status, attempts, locked_by FROM jobs WHERE session_id = $1', [
      sessionId,
    ]);
    expect(jobs.rows[0]).toMatchObject({ status: 'done', attempts: 2 });
    expect(jobs.rows[0].locked_by).not.toBe('dead');
  });

  it('a job that needed per-session env vars held by the dead process fails its session with a clear reason', async () => {
    const agentId = await createAgent(fx);
    const session = await insertSession(fx.pool, { agentId, title: null, initialPrompt: null });
    await enqueueClaimedJob(
      fx.pool,
      { kind: 'session_bring_up', sessionId: session.id, payload: { session_env: true } },
      { workerId: 'crashed-web-process', leaseMs: 200 },
    );
    const failed = await waitForStatus(fx, session.id, ['failed', 'ready']);
    expect(failed.status).toBe('failed');
    expect(failed.failure_reason).toBe(SESSION_ENV_LOST_REASON);
  });

  it('per-session env vars reach the vault through the receiving process and override agent values', async () => {
    const agentId = await createAgent(fx);
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
      env_vars: { API_TOKEN: 'session-value', CI_TOKEN: 'ci' },
    });
    expect(created.status).toBe(201);
    await waitForStatus(fx, created.body.id, ['ready']);
    const job = await fx.pool.query('SELECT payload FROM jobs WHERE session_id = $1', [created.body.id]);
    expect(job.rows[0].payload).toEqual({ session_env: true });
  });

  it('rejects invalid per-session env vars with 400 naming the key and rule', async () => {
    const agentId = await createAgent(fx);
    const bad = await fx.api<{ error: string }>('POST', `${BASE}/agents/${agentId}/session`, {
      env_vars: { PORT: '1' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/env_vars\.PORT: reserved key/);
    const notString = await fx.api<{ error: string }>('POST', `${BASE}/agents/${agentId}/session`, {
      env_vars: { A: 1 },
    });
    expect(notString.status).toBe(400);
    const unknownAgent = await fx.api<{ error: string }>(
      'POST',
      `${BASE}/agents/00000000-0000-4000-8000-000000000000/session`,
      {},
    );
    expect(unknownAgent.status).toBe(404);
  });
});

describe('creating timeout', () => {
  let fx: RuntimeFixture;
  beforeAll(async () => {
    // Long enough for the vault to start on a loaded 2-core machine, short enough for a test.
    fx = await startRuntimeFixture({ harnessMode: 'hang', creatingTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('fails a session whose harness never listens within SESSION_CREATING_TIMEOUT_MS and stops its sandbox', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
    const failed = await waitForStatus(fx, created.body.id, ['failed', 'ready'], 25_000);
    expect(failed.status).toBe('failed');
    expect(failed.failure_reason).toMatch(
      /^sandbox did not become ready within 10 s \(last phase: harness_ready\): harness/,
    );
    expect(failed.phase).toBe('harness_ready');
    await waitFor(
      async () => (await fx.launcher.describe(`local:${created.body.id}`))?.lifecycle === 'stopped',
    );
  });

  it('the sweep fails sessions still creating past the timeout even without a job', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
    const session = await insertSession(fx.pool, {
      agentId: agent.body.id,
      title: null,
      initialPrompt: null,
    });
    await fx.pool.query(`UPDATE sessions SET created_at = now() - interval '1 hour' WHERE id = $1`, [
      session.id,
    ]);
    const failedIds = await fx.runtime.sweepCreatingTimeouts();
    expect(failedIds).toContain(session.id);
    const row = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${session.id}`);
    expect(row.body.status).toBe('failed');
    expect(row.body.failure_reason).toMatch(
      /did not become ready within 10 s \(last phase: creating_sandbox\)/,
    );
  });
});

describe('harness-reported failure and silent harnesses', () => {
  it('a harness reporting failed fails the session with its reason', async () => {
    const fx = await startRuntimeFixture({ harnessMode: 'fail_boot' });
    try {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
      const failed = await waitForStatus(fx, created.body.id, ['failed', 'ready']);
      expect(failed.status).toBe('failed');
      expect(failed.failure_reason).toBe('git clone failed: repository not found');
    } finally {
      await fx.close();
    }
  });

  it('a harness whose callbacks never arrive still becomes ready through the health probe', async () => {
    const fx = await startRuntimeFixture({ harnessMode: 'silent' });
    try {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
      const ready = await waitForStatus(fx, created.body.id, ['failed', 'ready']);
      expect(ready.status).toBe('ready');
    } finally {
      await fx.close();
    }
  });
});
