/**
 * idle-reaper Lambda (EventBridge Scheduler, every 5 minutes): idle sessions -> dead, creating
 * timeouts -> failed, expired warm sandboxes and orphan tasks stopped. Idempotent and safe to
 * overlap: a run takes a PostgreSQL advisory lock and skips when another holds it
 * (platform/src/reaper).
 *
 * While no sandbox of the environment runs there is nothing to stop, so the run skips the
 * database and lets it pause, except the day's first run after 00:00 UTC, which sweeps rows a
 * crash may have left (lambda/shared/sandbox-activity.ts).
 */
import type { z } from 'zod';
import { runIdleReaper, type ReaperResult } from '../../platform/src/reaper/reaper';
import { emitMetrics } from '../shared/metrics';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { isDailyPass, sandboxesRunning } from '../shared/sandbox-activity';
import { idleReaperFunctionEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime<z.output<typeof idleReaperFunctionEnvSchema>> | null = null;

/** A run that did not touch the database: no sandbox ran and it was not the daily pass. */
export interface ReaperSkip {
  skipped: true;
  reason: 'no sandbox runs';
}

/** One run at `now` (the handler's clock; tests pass their own). */
export async function runReaper(now: Date): Promise<ReaperResult | ReaperSkip> {
  runtime ??= createLambdaRuntime('idle-reaper', idleReaperFunctionEnvSchema);
  const { log, env } = runtime;
  const started = Date.now();
  const daily = isDailyPass(now, env.SCHEDULE_EVERY_MINUTES);
  if (!daily && !(await sandboxesRunning(runtime.launcher()))) {
    log.info({ duration_ms: Date.now() - started }, 'no sandbox runs: idle reaper pass skipped');
    return { skipped: true, reason: 'no sandbox runs' };
  }
  const lambda = runtime;
  return lambda.withDatabase(async (db) => {
    const result = await runIdleReaper({
      db,
      launcher: lambda.launcher(),
      log,
      environment: env.SANDBOX_ENVIRONMENT,
      creatingTimeoutMs: env.SESSION_CREATING_TIMEOUT_MS,
    });
    emitMetrics(
      env.METRICS_NAMESPACE,
      { Environment: env.SANDBOX_ENVIRONMENT },
      {
        IdleSessionsReaped: result.idleSessions,
        CreatingSessionsTimedOut: result.creatingTimeouts,
        StaleWarmSandboxesStopped: result.staleWarmSandboxes,
        OrphanTasksStopped: result.orphanTasks,
        SandboxStopFailures: result.stopFailures,
        ReaperDatabaseMs: result.databaseMs,
      },
    );
    log.info({ ...result, daily, duration_ms: Date.now() - started }, 'idle reaper pass');
    return result;
  });
}

export const handler = (): Promise<ReaperResult | ReaperSkip> => runReaper(new Date());
