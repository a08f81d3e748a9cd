/**
 * warm-pool Lambda (EventBridge Scheduler, every minute, reserved concurrency 1):
 * recycles expired/stale/surplus warm sandboxes (stopping their tasks) and plans the
 * top-up (provisioning rows + warm_bring_up jobs that the worker runs). Idempotent.
 */
import { runWarmPoolPass } from '../../platform/src/warm-pool/warm-pool';
import { emitMetrics } from '../shared/metrics';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { parseLambdaEnv, warmPoolEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime | null = null;

export async function handler(): Promise<{ recycled: number; planned: number }> {
  runtime ??= createLambdaRuntime('warm-pool');
  const { log, env } = runtime;
  const pool = parseLambdaEnv(warmPoolEnvSchema);
  const started = Date.now();
  const result = await runWarmPoolPass({
    db: await runtime.database.get(),
    launcher: runtime.launcher(),
    log,
    settings: {
      size: pool.WARM_POOL_SIZE,
      recentAgentHours: pool.WARM_POOL_RECENT_AGENT_HOURS,
      maxProvisioning: pool.WARM_POOL_MAX_PROVISIONING,
      ttlMinutes: pool.WARM_POOL_TTL_MINUTES,
    },
  });
  emitMetrics(
    env.METRICS_NAMESPACE,
    { Environment: env.SANDBOX_ENVIRONMENT },
    {
      WarmSandboxesRecycled: result.recycled,
      WarmSandboxesPlanned: result.planned,
    },
  );
  log.info(
    { ...result, duration_ms: Date.now() - started, pool_size: pool.WARM_POOL_SIZE },
    'warm pool pass',
  );
  return result;
}
