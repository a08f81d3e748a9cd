import pino from 'pino';
import type pg from 'pg';
import { withTransaction } from '../../../platform/src/db/pool';
import { getWarmSandbox, requestWarmPoolTopUp } from '../../../platform/src/db/warm-pool';
import { planTopUp } from '../../../platform/src/warm-pool/plan';
import {
  DatabaseWarmPool,
  recycleWarmPool,
  runWarmPoolPass,
  topUpWarmPool,
  type WarmPoolSettings,
} from '../../../platform/src/warm-pool/warm-pool';
import { MemoryLauncher } from './support/memory-launcher';
import { openSeededDatabase, type Seed, type SeededDatabase } from './support/seed';

const log = pino({ level: 'silent' });
const settings: WarmPoolSettings = { size: 4, recentAgentHours: 24, maxProvisioning: 2, ttlMinutes: 30 };
let database: SeededDatabase;
let pool: pg.Pool;
let seed: Seed;

beforeAll(async () => {
  database = await openSeededDatabase(10);
  ({ pool, seed } = database);
  // Any statement that changes a warm sandbox's expires_at fails the test that ran it.
  await seed.client.query(`
    CREATE FUNCTION forbid_ttl_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'expires_at of warm sandbox % changed from % to %', OLD.id, OLD.expires_at, NEW.expires_at; END $$;
    CREATE TRIGGER warm_ttl_is_fixed BEFORE UPDATE ON warm_sandboxes FOR EACH ROW
      WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at) EXECUTE FUNCTION forbid_ttl_change();`);
});

afterAll(async () => {
  await database?.close();
});

beforeEach(async () => {
  await seed.client.query('TRUNCATE agents, sessions, warm_sandboxes, jobs CASCADE');
});

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);

describe('planTopUp', () => {
  const agent = (id: string, recentSessions: number, live = 0) => ({
    agentId: id,
    fingerprint: `fp-${id}`,
    recentSessions,
    lastSessionAt: at(1),
    live,
  });

  test("spreads the budget by recent activity (D'Hondt) and starts at most maxProvisioning", () => {
    const agents = [agent('a', 6), agent('b', 3), agent('c', 1)];
    expect(planTopUp({ size: 4, maxProvisioning: 10, liveTotal: 0, agents }).map((s) => s.agentId)).toEqual([
      'a',
      'b',
      'a',
      'a',
    ]);
    expect(planTopUp({ size: 4, maxProvisioning: 2, liveTotal: 0, agents }).map((s) => s.agentId)).toEqual([
      'a',
      'b',
    ]);
  });

  test('skips seats an agent already fills and never exceeds the free budget', () => {
    const agents = [agent('a', 6, 2), agent('b', 3)];
    expect(planTopUp({ size: 4, maxProvisioning: 4, liveTotal: 2, agents }).map((s) => s.agentId)).toEqual([
      'b',
      'a',
    ]);
    // Live sandboxes of agents that are no longer eligible still use the budget.
    expect(planTopUp({ size: 4, maxProvisioning: 4, liveTotal: 4, agents: [agent('b', 3)] })).toEqual([]);
  });

  test('size 0 turns the pool off; no eligible agents plans nothing', () => {
    expect(planTopUp({ size: 0, maxProvisioning: 2, liveTotal: 0, agents: [agent('a', 5)] })).toEqual([]);
    expect(planTopUp({ size: 3, maxProvisioning: 2, liveTotal: 0, agents: [] })).toEqual([]);
  });
});

describe('topUpWarmPool', () => {
  test('plans for agents with recent sessions only, inserting provisioning rows and one bring-up job each', async () => {
    const busy = await seed.agent();
    const quiet = await seed.agent();
    const old = await seed.agent();
    for (let i = 0; i < 3; i++) await seed.session(busy, { ageMinutes: 10 });
    await seed.session(quiet, { ageMinutes: 60 });
    await seed.session(old, { ageMinutes: 25 * 60 });

    const first = await topUpWarmPool({ db: pool, settings, log });
    expect(first.map((r) => r.agent_id)).toEqual([busy, busy]);
    expect(first.every((r) => r.status === 'provisioning')).toBe(true);
    for (const row of first) {
      const ttl = row.expires_at.getTime() - row.created_at.getTime();
      expect(ttl).toBe(30 * 60_000);
    }
    const jobs = await seed.client.query(`SELECT kind, payload, max_attempts FROM jobs ORDER BY id`);
    expect(jobs.rows).toEqual(
      first.map((r) => ({ kind: 'warm_bring_up', payload: { warm_sandbox_id: r.id }, max_attempts: 1 })),
    );

    const second = await topUpWarmPool({ db: pool, settings, log });
    expect(second.map((r) => r.agent_id)).toEqual([quiet, busy]);
    // Budget (4) reached: nothing more, and the old agent never got one.
    expect(await topUpWarmPool({ db: pool, settings, log })).toEqual([]);
    const perAgent = await seed.client.query(
      `SELECT agent_id, count(*)::int AS n FROM warm_sandboxes GROUP BY agent_id ORDER BY n DESC`,
    );
    expect(perAgent.rows).toEqual([
      { agent_id: busy, n: 3 },
      { agent_id: quiet, n: 1 },
    ]);
  });

  test('overlapping top-ups never exceed the budget', async () => {
    const agents = await Promise.all([seed.agent(), seed.agent(), seed.agent()]);
    for (const a of agents) await seed.session(a);
    const big = { ...settings, size: 5, maxProvisioning: 5 };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => topUpWarmPool({ db: pool, settings: big, log })),
    );
    expect(results.flat()).toHaveLength(5);
    expect((await seed.client.query(`SELECT count(*)::int AS n FROM warm_sandboxes`)).rows[0].n).toBe(5);
  });

  test('WARM_POOL_SIZE=0 plans nothing', async () => {
    const a = await seed.agent();
    await seed.session(a);
    expect(await topUpWarmPool({ db: pool, settings: { ...settings, size: 0 }, log })).toEqual([]);
  });
});

describe('claim', () => {
  test('two concurrent claims of one warm sandbox never both succeed', async () => {
    const launcher = new MemoryLauncher();
    const warmPool = new DatabaseWarmPool({ db: pool, launcher, settings, log });
    const agent = await seed.agent();
    for (let round = 0; round < 25; round++) {
      await seed.client.query('DELETE FROM warm_sandboxes');
      const warmId = await seed.warm(agent, { sandboxRef: `arn:task/${round}` });
      const sessions = [
        await seed.session(agent, { status: 'creating' }),
        await seed.session(agent, { status: 'creating' }),
      ];
      const claims = await Promise.all(
        sessions.map((sessionId) =>
          withTransaction(pool, (tx) => warmPool.claim(tx, { agentId: agent, sessionId })),
        ),
      );
      const won = claims.filter((c) => c !== null);
      expect(won).toHaveLength(1);
      expect(won[0]).toEqual({
        id: warmId,
        harnessSessionId: null,
        sandboxRef: `arn:task/${round}`,
        sandboxUrl: 'http://10.0.0.9:4096',
        vaultAdminUrl: 'https://10.0.0.9:14323',
      });
      const row = (await getWarmSandbox(pool, warmId))!;
      expect(row.status).toBe('claimed');
      expect(sessions).toContain(row.session_id);
    }
  });

  test("a claim queues one top-up with the claim, and skips stale, expiring and other agents' sandboxes", async () => {
    const warmPool = new DatabaseWarmPool({ db: pool, launcher: new MemoryLauncher(), settings, log });
    const agent = await seed.agent();
    const other = await seed.agent();
    await seed.warm(agent, { fingerprint: 'settings-before-an-edit', sandboxRef: 'arn:stale' });
    await seed.warm(agent, { expiresInMinutes: 0.5, sandboxRef: 'arn:expiring' });
    await seed.warm(other, { sandboxRef: 'arn:other' });
    const session = await seed.session(agent, { status: 'creating' });

    const rolledBack = await withTransaction(pool, async (tx) => {
      expect(await warmPool.claim(tx, { agentId: agent, sessionId: session })).toBeNull();
      throw new Error('roll back');
    }).catch((e: Error) => e.message);
    expect(rolledBack).toBe('roll back');
    // The top-up request belongs to the claiming transaction: rolled back with it.
    expect((await seed.client.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n).toBe(0);

    const fresh = await seed.warm(agent, { sandboxRef: 'arn:fresh' });
    const claimed = await withTransaction(pool, (tx) =>
      warmPool.claim(tx, { agentId: agent, sessionId: session }),
    );
    expect(claimed?.id).toBe(fresh);
    await withTransaction(pool, (tx) => requestWarmPoolTopUp(tx));
    const jobs = await seed.client.query(`SELECT kind FROM jobs`);
    expect(jobs.rows).toEqual([{ kind: 'warm_pool_top_up' }]);
  });
});

describe('recycling', () => {
  test('expired, stale and surplus warm sandboxes end with a reason and their tasks stop; TTLs never move', async () => {
    const launcher = new MemoryLauncher();
    const agent = await seed.agent();
    await seed.session(agent);
    const expired = await seed.warm(agent, { expiresInMinutes: -1, sandboxRef: 'arn:expired' });
    const stale = await seed.warm(agent, { fingerprint: 'old', sandboxRef: 'arn:stale' });
    const keep = await seed.warm(agent, { expiresInMinutes: 29, sandboxRef: 'arn:keep' });
    const surplus = await seed.warm(agent, { expiresInMinutes: 10, sandboxRef: 'arn:surplus' });
    const claimed = await seed.warm(agent, {
      status: 'claimed',
      expiresInMinutes: -5,
      sandboxRef: 'arn:claimed',
    });
    const before = await seed.client.query(`SELECT id, expires_at FROM warm_sandboxes ORDER BY id`);

    const ended = await recycleWarmPool({ db: pool, launcher, settings: { ...settings, size: 1 }, log });
    const reasons = Object.fromEntries(ended.map((r) => [r.id, r.failure_reason]));
    expect(reasons).toEqual({
      [expired]: 'expired: warm sandbox TTL reached',
      [stale]: "stale: the agent's settings changed",
      [surplus]: 'surplus: WARM_POOL_SIZE is lower than the live warm sandboxes',
    });
    expect(launcher.stops.map((s) => s.ref).sort()).toEqual(['arn:expired', 'arn:stale', 'arn:surplus']);
    expect((await getWarmSandbox(pool, keep))!.status).toBe('warm');
    // A claimed sandbox belongs to its session: never recycled, whatever its TTL says.
    expect((await getWarmSandbox(pool, claimed))!.status).toBe('claimed');

    // A second pass finds nothing to do (idempotent), and a full pass with top-up, claims and
    // markWarm leaves every expires_at exactly as created.
    expect(await recycleWarmPool({ db: pool, launcher, settings: { ...settings, size: 1 }, log })).toEqual(
      [],
    );
    await runWarmPoolPass({ db: pool, launcher, settings, log });
    const warmPool = new DatabaseWarmPool({ db: pool, launcher, settings, log });
    for (const row of (await seed.client.query(`SELECT id FROM warm_sandboxes WHERE status = 'provisioning'`))
      .rows) {
      await seed.client.query(
        `UPDATE warm_sandboxes SET sandbox_url = 'http://10.0.0.2:4096', sandbox_ref = 'arn:' || id WHERE id = $1`,
        [row.id],
      );
      await warmPool.markWarm(row.id);
    }
    const session = await seed.session(agent, { status: 'creating' });
    await withTransaction(pool, (tx) => warmPool.claim(tx, { agentId: agent, sessionId: session }));
    await runWarmPoolPass({ db: pool, launcher, settings, log });
    const after = await seed.client.query(
      `SELECT id, expires_at FROM warm_sandboxes WHERE id = ANY($1) ORDER BY id`,
      [before.rows.map((r) => r.id)],
    );
    expect(after.rows).toEqual(before.rows);
  });

  test('markDead ends a warm sandbox once and stops its task; markWarm needs an address and an unexpired TTL', async () => {
    const launcher = new MemoryLauncher();
    const warmPool = new DatabaseWarmPool({ db: pool, launcher, settings, log });
    const agent = await seed.agent();
    const id = await seed.warm(agent, { status: 'provisioning', sandboxRef: 'arn:boot-failed' });
    await warmPool.markDead(id, 'harness failed: npm install exited 1');
    await warmPool.markDead(id, 'again');
    expect(launcher.stops).toEqual([
      { ref: 'arn:boot-failed', reason: 'warm sandbox harness failed: npm install exited 1' },
    ]);
    expect((await getWarmSandbox(pool, id))!.failure_reason).toBe('harness failed: npm install exited 1');

    const late = await seed.warm(agent, { status: 'provisioning', expiresInMinutes: -1 });
    await warmPool.markWarm(late);
    expect((await getWarmSandbox(pool, late))!.status).toBe('provisioning');
    expect(await warmPool.countsForAgent(agent)).toEqual({
      enabled: true,
      counts: { provisioning: 1, warm: 0, claimed: 0, dead: 1 },
    });
    expect(await warmPool.find('not-a-uuid')).toBeNull();
    expect(await warmPool.find(id)).toEqual({ id, agentId: agent, status: 'dead', sessionId: null });
  });
});
