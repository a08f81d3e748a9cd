/**
 * The idle reaper (the `idle-reaper` Lambda every 5 minutes on AWS; a timer in local
 * mode): ready sessions idle past their idle_timeout_ms become dead and their
 * sandboxes stop; sessions still creating past SESSION_CREATING_TIMEOUT_MS fail;
 * expired or stale warm sandboxes end; tasks of this environment that nothing owns
 * any more (orphans: session dead or gone, warm row dead or gone) are stopped.
 * Database first, then the tasks: a stop that fails leaves a task whose row is dead,
 * which the next run's orphan sweep stops. One run at a time (a PostgreSQL advisory
 * lock): a run that overlaps another skips, because the other's tasks would otherwise
 * look like orphans to it between the other's database updates and its stops.
 */
import type pg from 'pg';
import { isUuid } from '../db/pool';
import { ownedSandboxRefs, type TaggedSandbox } from '../db/reaper';
import { recycleWarmSandboxes } from '../db/warm-pool';
import { failTimedOutCreating, reapIdleSessions } from '../lifecycle/session-states';
import type { SandboxControl } from '../sandbox/launcher';
import type { Logger } from '../logger';

export interface ReaperDeps {
  db: pg.Pool;
  launcher: SandboxControl;
  log: Logger;
  /** `lap:environment` of this deployment: only its tasks are swept. */
  environment: string;
  creatingTimeoutMs: number;
  /** Parallel StopTask calls (ECS rate-limits them; the launcher retries throttling). */
  stopConcurrency?: number;
}

export interface ReaperResult {
  /** Another run held the reaper lock: this one did nothing. */
  skipped: boolean;
  idleSessions: number;
  creatingTimeouts: number;
  staleWarmSandboxes: number;
  orphanTasks: number;
  stopFailures: number;
  /** Time spent in PostgreSQL (the rest is ECS calls). */
  databaseMs: number;
}

/** The advisory lock one reaper run holds: the environment's runs share one database. */
const REAPER_LOCK_KEY = `hashtext('lap:idle-reaper')`;
const REAPER_LOCK = `SELECT pg_try_advisory_lock(${REAPER_LOCK_KEY}) AS locked`;
const REAPER_UNLOCK = `SELECT pg_advisory_unlock(${REAPER_LOCK_KEY})`;

export async function runIdleReaper(deps: ReaperDeps): Promise<ReaperResult> {
  // A session-level lock on its own connection: released if this process dies mid-run.
  const lock = await deps.db.connect();
  try {
    const { rows } = await lock.query<{ locked: boolean }>(REAPER_LOCK);
    if (!rows[0]!.locked) {
      deps.log.info({}, 'another idle-reaper run is in progress: this one skips');
      return {
        skipped: true,
        idleSessions: 0,
        creatingTimeouts: 0,
        staleWarmSandboxes: 0,
        orphanTasks: 0,
        stopFailures: 0,
        databaseMs: 0,
      };
    }
    try {
      return await reap(deps);
    } finally {
      await lock.query(REAPER_UNLOCK);
    }
  } finally {
    lock.release();
  }
}

async function reap(deps: ReaperDeps): Promise<ReaperResult> {
  const { db, launcher } = deps;
  let databaseMs = 0;
  const timed = async <T>(query: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await query();
    } finally {
      databaseMs += performance.now() - start;
    }
  };

  const idle = await timed(() => reapIdleSessions(db));
  const timedOut = await timed(() => failTimedOutCreating(db, deps.creatingTimeoutMs));
  const staleWarm = await timed(() => recycleWarmSandboxes(db, null));
  const stops: Array<{ ref: string; reason: string; fields: Record<string, unknown> }> = [
    ...idle.flatMap((s) =>
      s.sandbox_ref
        ? [{ ref: s.sandbox_ref, reason: s.failure_reason ?? 'idle timeout', fields: { session_id: s.id } }]
        : [],
    ),
    ...timedOut.flatMap((s) =>
      s.sandbox_ref
        ? [
            {
              ref: s.sandbox_ref,
              reason: s.failure_reason ?? 'creating timeout',
              fields: { session_id: s.id },
            },
          ]
        : [],
    ),
    ...staleWarm.flatMap((w) =>
      w.sandbox_ref
        ? [
            {
              ref: w.sandbox_ref,
              reason: `warm sandbox ${w.failure_reason ?? 'ended'}`,
              fields: { warm_sandbox_id: w.id },
            },
          ]
        : [],
    ),
  ];
  for (const s of idle)
    deps.log.info(
      { session_id: s.id, agent_id: s.agent_id, reason: s.failure_reason },
      'idle session reaped',
    );
  for (const s of timedOut)
    deps.log.warn({ session_id: s.id, failure_reason: s.failure_reason }, 'session creating timeout');

  // Orphans: listed after the updates above, so this run's own reaps are not counted twice.
  const running = await launcher.listByTags({ 'lap:environment': deps.environment });
  const alreadyStopping = new Set(stops.map((s) => s.ref));
  const tagged: TaggedSandbox[] = running.flatMap((t) => {
    const sandboxId = t.tags['lap:sandbox-id'];
    const kind = t.tags['lap:kind'];
    if (!sandboxId || !isUuid(sandboxId) || (kind !== 'session' && kind !== 'warm')) return [];
    return alreadyStopping.has(t.ref) ? [] : [{ sandboxId, ref: t.ref, kind }];
  });
  // A task with our environment tag but no valid sandbox id was not started by the platform's launcher: leave it.
  const owned = await timed(() => ownedSandboxRefs(db, tagged));
  const orphans = tagged.filter((t) => !owned.has(t.ref));
  for (const o of orphans) {
    stops.push({
      ref: o.ref,
      reason: `orphan: its ${o.kind === 'session' ? 'session' : 'warm sandbox'} is no longer live`,
      fields: { sandbox_id: o.sandboxId, kind: o.kind },
    });
  }

  let stopFailures = 0;
  const queue = [...stops];
  const workers = Array.from({ length: Math.max(1, deps.stopConcurrency ?? 8) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      try {
        await launcher.stop(next.ref, next.reason);
      } catch (err) {
        stopFailures++;
        deps.log.warn(
          { task_arn: next.ref, ...next.fields, err: { message: (err as Error).message } },
          'sandbox stop failed',
        );
      }
    }
  });
  await Promise.all(workers);

  return {
    skipped: false,
    idleSessions: idle.length,
    creatingTimeouts: timedOut.length,
    staleWarmSandboxes: staleWarm.length,
    orphanTasks: orphans.length,
    stopFailures,
    databaseMs: Math.round(databaseMs * 10) / 10,
  };
}
