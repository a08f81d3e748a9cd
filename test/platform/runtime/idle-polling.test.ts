/**
 * An idle platform leaves its database alone (issue 13 item 11), so a serverless
 * database can pause: the job runner backs off to JOB_POLL_IDLE_MAX_MS while nothing
 * is queued (a poke or found work makes it brisk again), the creating-timeout sweep
 * does not query while this process brings nothing up, and idle connections close.
 */
import pino from 'pino';
import type pg from 'pg';
import { enqueueJob } from '../../../platform/src/db/jobs';
import { createPool } from '../../../platform/src/db/pool';
import { JobRunner } from '../../../platform/src/jobs/job-runner';
import { memoryRuntime } from '../api/test-api';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

const log = pino({ level: 'silent' });

/** Counts the statements sent through `pool` whose text matches. */
function countQueries(pool: pg.Pool, pattern: RegExp): { count: () => number } {
  let n = 0;
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
    if (text && pattern.test(text)) n++;
    return original(...args);
  };
  return { count: () => n };
}

describe('idle polling', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool({ url: database.url, max: 4, idleTimeoutMs: 300 });
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('the job runner looks less and less often while idle, and briskly again after a poke', async () => {
    const claims = countQueries(pool, /UPDATE jobs SET status = 'running'/);
    const ran: string[] = [];
    const runner = new JobRunner({
      db: pool,
      log,
      polling: { busyMs: 50, idleMaxMs: 400 },
      handlers: { warm_pool_top_up: { run: async (job) => void ran.push(job.id) } },
    });
    runner.start();
    await new Promise((r) => setTimeout(r, 2000));
    // Fixed 50 ms polling would have looked 40 times; the back-off looks about 8 times (0, 50, 150, 350, 750, ...).
    expect(claims.count()).toBeLessThanOrEqual(10);
    expect(runner.currentWaitMs).toBe(400);
    const job = await enqueueJob(pool, { kind: 'warm_pool_top_up', sessionId: null });
    runner.poke();
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toEqual([job.id]);
    expect(runner.currentWaitMs).toBeLessThan(400);
    await runner.stop();
  });

  it('the creating-timeout sweep sends no query while this process brings nothing up', async () => {
    const sweeps = countQueries(pool, /sandbox did not become ready within/);
    const runtime = memoryRuntime(pool, {
      log,
      extra: { polling: { busyMs: 50, idleMaxMs: 1000 }, sweepMs: 50 },
    });
    runtime.startWorker();
    await new Promise((r) => setTimeout(r, 600));
    await runtime.stop(100);
    expect(sweeps.count()).toBe(0);
  });

  it('idle connections close after idleTimeoutMs (DB_POOL_IDLE_TIMEOUT_MS)', async () => {
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    expect(pool.totalCount).toBeGreaterThan(0);
    const until = Date.now() + 3000;
    while (pool.totalCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(pool.totalCount).toBe(0);
    expect(Date.now()).toBeLessThan(until);
  });
});
