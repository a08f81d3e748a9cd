/**
 * idle-reaper Lambda (EventBridge Scheduler, every 5 minutes, reserved concurrency 1):
 * idle sessions -> dead, creating timeouts -> failed, expired warm sandboxes and
 * orphan tasks stopped. Idempotent and safe to overlap (see platform/src/reaper).
 */
import { runIdleReaper, type ReaperResult } from '../../platform/src/reaper/reaper';
import { emitMetrics } from '../shared/metrics';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { parseLambdaEnv, reaperEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime | null = null;

export async function handler(): Promise<ReaperResult> {
  runtime ??= createLambdaRuntime('idle-reaper');
  const { log, env } = runtime;
  const started = Date.now();
  const result = await runIdleReaper({
    db: await runtime.database.get(),
    launcher: runtime.launcher(),
    log,
    environment: env.SANDBOX_ENVIRONMENT,
    creatingTimeoutMs: parseLambdaEnv(reaperEnvSchema).SESSION_CREATING_TIMEOUT_MS,
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
  log.info({ ...result, duration_ms: Date.now() - started }, 'idle reaper pass');
  return result;
}
