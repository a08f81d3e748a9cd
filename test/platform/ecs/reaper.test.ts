import pino from 'pino';
import type pg from 'pg';
import { runIdleReaper, type ReaperDeps } from '../../../platform/src/reaper/reaper';
import { MemoryLauncher } from './support/memory-launcher';
import { openSeededDatabase, type Seed, type SeededDatabase } from './support/seed';

const log = pino({ level: 'silent' });
let database: SeededDatabase;
let pool: pg.Pool;
let seed: Seed;

beforeAll(async () => {
  database = await openSeededDatabase(10);
  ({ pool, seed } = database);
});

afterAll(async () => {
  await database?.close();
});

beforeEach(async () => {
  await seed.client.query('TRUNCATE agents, sessions, warm_sandboxes, jobs CASCADE');
});

function deps(launcher: MemoryLauncher): ReaperDeps {
  return { db: pool, launcher, log, environment: 'test', creatingTimeoutMs: 600_000 };
}

async function statusOf(id: string) {
  const { rows } = await seed.client.query(`SELECT status, failure_reason FROM sessions WHERE id = $1`, [id]);
  return rows[0];
}

/** A session with a running task of its own, tagged like the ECS launcher tags it. */
async function sessionWithTask(
  launcher: MemoryLauncher,
  agent: string,
  fields: Parameters<Seed['session']>[1],
): Promise<{ id: string; ref: string }> {
  const id = await seed.session(agent, fields);
  const ref = launcher.adopt({
    'lap:sandbox-id': id,
    'lap:kind': 'session',
    'lap:agent-id': agent,
    'lap:environment': 'test',
  });
  await seed.client.query(`UPDATE sessions SET sandbox_ref = $2 WHERE id = $1`, [id, ref]);
  return { id, ref };
}

test('idle ready sessions die and stop; busy, creating and custom-timeout sessions are left alone', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const idle = await sessionWithTask(launcher, agent, { idleMinutes: 25 * 60 });
  const busy = await sessionWithTask(launcher, agent, { idleMinutes: 5 });
  const shortTimeout = await sessionWithTask(launcher, agent, { idleMinutes: 11, idleTimeoutMs: 600_000 });
  const longTimeout = await sessionWithTask(launcher, agent, {
    idleMinutes: 25 * 60,
    idleTimeoutMs: 2 * 86_400_000,
  });
  const creating = await sessionWithTask(launcher, agent, {
    status: 'creating',
    idleMinutes: 25 * 60,
    ageMinutes: 5,
  });

  const result = await runIdleReaper(deps(launcher));
  expect(result).toMatchObject({ idleSessions: 2, creatingTimeouts: 0, orphanTasks: 0, stopFailures: 0 });
  expect(await statusOf(idle.id)).toEqual({
    status: 'dead',
    failure_reason: 'idle timeout: no message for 86400 s (idle_timeout_ms)',
  });
  expect((await statusOf(shortTimeout.id)).status).toBe('dead');
  for (const s of [busy, longTimeout]) expect((await statusOf(s.id)).status).toBe('ready');
  expect((await statusOf(creating.id)).status).toBe('creating');
  expect(launcher.stops.map((s) => s.ref).sort()).toEqual([idle.ref, shortTimeout.ref].sort());
  expect(launcher.stops[0].reason).toMatch(/^idle timeout/);

  // Idempotent: nothing left to do.
  expect(await runIdleReaper(deps(launcher))).toMatchObject({ idleSessions: 0, orphanTasks: 0 });
  expect(launcher.stops).toHaveLength(2);
});

test('sessions creating past the timeout fail with a reason naming the last phase, and their task stops', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const stuck = await sessionWithTask(launcher, agent, { status: 'creating', ageMinutes: 11 });
  const young = await sessionWithTask(launcher, agent, { status: 'creating', ageMinutes: 2 });
  const result = await runIdleReaper(deps(launcher));
  expect(result.creatingTimeouts).toBe(1);
  expect(await statusOf(stuck.id)).toEqual({
    status: 'failed',
    failure_reason: 'sandbox did not become ready within 600 s (last phase: creating_sandbox)',
  });
  expect((await statusOf(young.id)).status).toBe('creating');
  expect(launcher.stops.map((s) => s.ref)).toEqual([stuck.ref]);
});

test('orphan tasks are stopped; owned tasks, other environments and foreign tasks are not', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const tag = (id: string, kind: 'session' | 'warm', environment = 'test') =>
    launcher.adopt({
      'lap:sandbox-id': id,
      'lap:kind': kind,
      'lap:agent-id': agent,
      'lap:environment': environment,
    });

  const live = await sessionWithTask(launcher, agent, {});
  const launching = await seed.session(agent, { status: 'creating' });
  const launchingRef = tag(launching, 'session'); // ARN not recorded yet
  const deadSession = await seed.session(agent, { status: 'dead' });
  const deadRef = tag(deadSession, 'session');
  const goneRef = tag(crypto.randomUUID(), 'session');
  const replaced = await sessionWithTask(launcher, agent, { status: 'creating' });
  const replacedOldRef = tag(replaced.id, 'session'); // an earlier sandbox of a resumed bring-up

  const warmLive = await seed.warm(agent, { sandboxRef: null });
  const warmLiveRef = tag(warmLive, 'warm');
  const warmDead = await seed.warm(agent, { status: 'dead' });
  const warmDeadRef = tag(warmDead, 'warm');
  const claimedBy = await seed.session(agent, {});
  const claimed = await seed.warm(agent, { status: 'claimed' });
  const claimedRef = tag(claimed, 'warm');
  await seed.client.query(`UPDATE warm_sandboxes SET sandbox_ref = $2, session_id = $3 WHERE id = $1`, [
    claimed,
    claimedRef,
    claimedBy,
  ]);
  const claimedEnded = await seed.warm(agent, { status: 'claimed' });
  const claimedEndedRef = tag(claimedEnded, 'warm');
  const endedSession = await seed.session(agent, { status: 'dead' });
  await seed.client.query(`UPDATE warm_sandboxes SET sandbox_ref = $2, session_id = $3 WHERE id = $1`, [
    claimedEnded,
    claimedEndedRef,
    endedSession,
  ]);
  const otherEnv = tag(deadSession, 'session', 'prod');
  const foreign = launcher.adopt({
    'lap:sandbox-id': 'not-a-uuid',
    'lap:kind': 'session',
    'lap:agent-id': agent,
    'lap:environment': 'test',
  });

  const result = await runIdleReaper(deps(launcher));
  const stopped = new Set(launcher.stops.map((s) => s.ref));
  expect(result.orphanTasks).toBe(5);
  expect(stopped).toEqual(new Set([deadRef, goneRef, replacedOldRef, warmDeadRef, claimedEndedRef]));
  for (const kept of [live.ref, launchingRef, replaced.ref, warmLiveRef, claimedRef, otherEnv, foreign]) {
    expect(stopped.has(kept)).toBe(false);
  }
  expect(launcher.stops.find((s) => s.ref === deadRef)!.reason).toBe('orphan: its session is no longer live');
});

test('expired warm sandboxes end and stop (the reaper does not know the pool budget, so it trims no surplus)', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  await seed.warm(agent, { expiresInMinutes: -2, sandboxRef: 'arn:expired' });
  await seed.warm(agent, { expiresInMinutes: 20, sandboxRef: 'arn:fresh-1' });
  await seed.warm(agent, { expiresInMinutes: 20, sandboxRef: 'arn:fresh-2' });
  const result = await runIdleReaper(deps(launcher));
  expect(result.staleWarmSandboxes).toBe(1);
  expect(launcher.stops).toEqual([
    { ref: 'arn:expired', reason: 'warm sandbox expired: warm sandbox TTL reached' },
  ]);
});

test('two overlapping runs never both act: every idle session is reaped and stopped exactly once', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const idle: string[] = [];
  for (let i = 0; i < 60; i++)
    idle.push((await sessionWithTask(launcher, agent, { idleMinutes: 25 * 60 })).ref);
  // Slow stops (as ECS's are): the second run starts while the first is still stopping the
  // tasks whose sessions it has already marked dead, which look like orphans meanwhile.
  const realStop = launcher.stop.bind(launcher);
  launcher.stop = async (ref, reason) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return realStop(ref, reason);
  };
  const [a, b] = await Promise.all([runIdleReaper(deps(launcher)), runIdleReaper(deps(launcher))]);
  expect(a.idleSessions + b.idleSessions).toBe(60);
  expect([a, b].filter((run) => run.skipped)).toHaveLength(1);
  const stopsPerRef = new Map<string, number>();
  for (const s of launcher.stops) stopsPerRef.set(s.ref, (stopsPerRef.get(s.ref) ?? 0) + 1);
  for (const ref of idle) expect(stopsPerRef.get(ref)).toBe(1);
  expect(
    (await seed.client.query(`SELECT count(*)::int AS n FROM sessions WHERE status = 'ready'`)).rows[0].n,
  ).toBe(0);
});

test('a failed stop is counted, and the next run stops the task as an orphan', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const idle = await sessionWithTask(launcher, agent, { idleMinutes: 25 * 60 });
  const realStop = launcher.stop.bind(launcher);
  launcher.stop = async () => {
    throw new Error('ThrottlingException: Rate exceeded');
  };
  expect(await runIdleReaper(deps(launcher))).toMatchObject({ idleSessions: 1, stopFailures: 1 });
  launcher.stop = realStop;
  expect(await runIdleReaper(deps(launcher))).toMatchObject({
    idleSessions: 0,
    orphanTasks: 1,
    stopFailures: 0,
  });
  expect(launcher.running()).not.toContain(idle.ref);
});
