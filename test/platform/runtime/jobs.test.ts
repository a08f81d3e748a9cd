import pino from 'pino';
import type pg from 'pg';
import {
  claimNextJob,
  completeJob,
  enqueueClaimedJob,
  enqueueJob,
  extendJobLease,
  jobsOfSession,
} from '../../../platform/src/db/jobs';
import { createPool } from '../../../platform/src/db/pool';
import { insertSession } from '../../../platform/src/db/sessions';
import { JobRunner } from '../../../platform/src/jobs/job-runner';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

const LEASE = { workerId: 'w', leaseMs: 60_000, kinds: ['session_bring_up'] as const };

describe('durable job queue', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool({ url: database.url, max: 10 });
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM jobs');
  });

  it('never gives one job to two concurrent claimers', async () => {
    await enqueueJob(pool, { kind: 'session_bring_up', sessionId: null });
    for (let round = 0; round < 5; round++) {
      await pool.query(`UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL`);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => claimNextJob(pool, { ...LEASE, workerId: `w${i}` })),
      );
      expect(claims.filter((c) => c !== null)).toHaveLength(1);
    }
  });

  it('hands each of many jobs to exactly one of many concurrent claimers', async () => {
    for (let i = 0; i < 20; i++) await enqueueJob(pool, { kind: 'session_bring_up', sessionId: null });
    const claimed = await Promise.all(
      Array.from({ length: 30 }, (_, i) => claimNextJob(pool, { ...LEASE, workerId: `w${i}` })),
    );
    const ids = claimed.filter((c) => c !== null).map((c) => c!.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  it('lets another runner take over a job whose lease ran out, and the old runner loses it', async () => {
    const job = await enqueueJob(pool, { kind: 'session_bring_up', sessionId: null });
    const first = await claimNextJob(pool, { ...LEASE, workerId: 'dead', leaseMs: 100 });
    expect(first?.id).toBe(job.id);
    expect(await claimNextJob(pool, { ...LEASE, workerId: 'other' })).toBeNull(); // lease still held
    await new Promise((r) => setTimeout(r, 200));
    const second = await claimNextJob(pool, { ...LEASE, workerId: 'other' });
    expect(second).toMatchObject({ id: job.id, attempts: 2, locked_by: 'other' });
    expect(await extendJobLease(pool, job.id, 'dead', 60_000)).toBe(false);
    expect(await extendJobLease(pool, job.id, 'other', 60_000)).toBe(true);
    await completeJob(pool, job.id, 'dead'); // a stale runner cannot complete it either
    expect((await pool.query('SELECT status FROM jobs WHERE id = $1', [job.id])).rows[0].status).toBe(
      'running',
    );
  });

  it('a job inserted already claimed is not claimable by others while its lease holds', async () => {
    await enqueueClaimedJob(
      pool,
      { kind: 'session_bring_up', sessionId: null },
      { workerId: 'me', leaseMs: 60_000 },
    );
    expect(await claimNextJob(pool, { ...LEASE, workerId: 'other' })).toBeNull();
  });

  it('runner: retries a failing job with backoff, then gives up and calls giveUp', async () => {
    const agent = await pool.query<{ id: string }>(`INSERT INTO agents (model) VALUES ('m') RETURNING id`);
    const session = await insertSession(pool, {
      agentId: agent.rows[0]!.id,
      title: null,
      initialPrompt: null,
    });
    await enqueueJob(pool, { kind: 'session_bring_up', sessionId: session.id, maxAttempts: 2 });
    const attempts: number[] = [];
    const gaveUp: string[] = [];
    const runner = new JobRunner({
      db: pool,
      log: pino({ level: 'silent' }),
      leaseMs: 1000,
      polling: { busyMs: 50, idleMaxMs: 50 },
      handlers: {
        session_bring_up: {
          run: async (job) => {
            attempts.push(job.attempts);
            throw new Error('launch refused');
          },
          giveUp: async (_job, reason) => void gaveUp.push(reason),
        },
      },
    });
    await pool.query(`UPDATE jobs SET run_at = now()`);
    await runner.claimDue();
    // The retry is due after 2 s of backoff; make it due now.
    await new Promise((r) => setTimeout(r, 100));
    await pool.query(`UPDATE jobs SET run_at = now()`);
    await runner.claimDue();
    await new Promise((r) => setTimeout(r, 200));
    await runner.stop(1000);
    expect(attempts).toEqual([1, 2]);
    expect(gaveUp).toEqual(['launch refused']);
    const [job] = await jobsOfSession(pool, session.id);
    expect(job).toMatchObject({ status: 'failed', last_error: 'launch refused' });
  });

  it('runner: a job whose runners kept dying is given up once its attempts are used, never left running', async () => {
    const job = await enqueueJob(pool, { kind: 'session_bring_up', sessionId: null, maxAttempts: 1 });
    await claimNextJob(pool, { ...LEASE, workerId: 'dead', leaseMs: 50 });
    await new Promise((r) => setTimeout(r, 100));
    const ran: string[] = [];
    const gaveUp: string[] = [];
    const runner = new JobRunner({
      db: pool,
      log: pino({ level: 'silent' }),
      handlers: {
        session_bring_up: {
          run: async (j) => void ran.push(j.id),
          giveUp: async (_j, r) => void gaveUp.push(r),
        },
      },
    });
    await runner.claimDue();
    await runner.stop(1000);
    expect(ran).toEqual([]);
    expect(gaveUp[0]).toMatch(/gave up after 1 attempts/);
    expect((await pool.query('SELECT status FROM jobs WHERE id = $1', [job.id])).rows[0].status).toBe(
      'failed',
    );
  });

  it('runner: the lease is extended while a long job runs', async () => {
    const job = await enqueueJob(pool, { kind: 'session_bring_up', sessionId: null });
    const runner = new JobRunner({
      db: pool,
      log: pino({ level: 'silent' }),
      leaseMs: 300,
      handlers: { session_bring_up: { run: () => new Promise((r) => setTimeout(r, 1200)) } },
    });
    await runner.claimDue();
    await new Promise((r) => setTimeout(r, 800));
    // Well past the first lease: still held, so nobody else can claim it.
    expect(await claimNextJob(pool, { ...LEASE, workerId: 'thief' })).toBeNull();
    await runner.stop(5000);
    expect((await pool.query('SELECT status FROM jobs WHERE id = $1', [job.id])).rows[0].status).toBe('done');
  });
});
