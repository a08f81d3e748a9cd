/**
 * warm-pool Lambda (EventBridge Scheduler, every minute): recycles expired/stale/surplus warm
 * sandboxes (stopping their tasks) and plans the top-up (provisioning rows + warm_bring_up jobs
 * that the worker runs). Idempotent; overlapping runs plan under one advisory lock. After
 * planning it pokes a worker (WORKER_INTERNAL_URL), which may sleep up to JOB_POLL_IDLE_MAX_MS
 * between looks at an empty queue; a poke that reaches no worker only delays the bring-ups.
 *
 * While no sandbox of the environment runs there is nothing to recycle, and the pool is seeded
 * again by the next session (each claim queues a top-up for the worker), so the run skips the
 * database and lets it pause (lambda/shared/sandbox-activity.ts).
 */
import type { z } from 'zod';
import { runWarmPoolPass } from '../../platform/src/warm-pool/warm-pool';
import { WorkerLink } from '../../platform/src/worker-link/client';
import { emitMetrics } from '../shared/metrics';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { sandboxesRunning } from '../shared/sandbox-activity';
import { warmPoolFunctionEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime<z.output<typeof warmPoolFunctionEnvSchema>> | null = null;

export interface WarmPoolRunResult {
  recycled: number;
  planned: number;
  /** No sandbox ran: the database was not touched. */
  skipped: boolean;
}

export async function handler(): Promise<WarmPoolRunResult> {
  runtime ??= createLambdaRuntime('warm-pool', warmPoolFunctionEnvSchema);
  const { log, env } = runtime;
  const started = Date.now();
  if (!(await sandboxesRunning(runtime.launcher()))) {
    log.info({ duration_ms: Date.now() - started }, 'no sandbox runs: warm pool pass skipped');
    return { recycled: 0, planned: 0, skipped: true };
  }
  const lambda = runtime;
  return lambda.withDatabase(async (db) => {
    const result = await runWarmPoolPass({
      db,
      launcher: lambda.launcher(),
      log,
      settings: {
        size: env.WARM_POOL_SIZE,
        recentAgentHours: env.WARM_POOL_RECENT_AGENT_HOURS,
        maxProvisioning: env.WARM_POOL_MAX_PROVISIONING,
        ttlMinutes: env.WARM_POOL_TTL_MINUTES,
      },
    });
    const poked =
      result.planned > 0 && env.WORKER_INTERNAL_URL
        ? await new WorkerLink({ baseUrl: env.WORKER_INTERNAL_URL, timeoutMs: 2000 }).poke()
        : null;
    emitMetrics(
      env.METRICS_NAMESPACE,
      { Environment: env.SANDBOX_ENVIRONMENT },
      {
        WarmSandboxesRecycled: result.recycled,
        WarmSandboxesPlanned: result.planned,
      },
    );
    log.info(
      { ...result, worker_poked: poked, duration_ms: Date.now() - started, pool_size: env.WARM_POOL_SIZE },
      'warm pool pass',
    );
    return { ...result, skipped: false };
  });
}
