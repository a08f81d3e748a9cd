/**
 * The job handlers of the bring-up: `session_bring_up` (a session's cold start),
 * `warm_bring_up` (one planned warm sandbox) and `warm_pool_top_up` (refill after a
 * claim). Whoever holds the job runs them: any worker, and for a session with
 * per-session env vars the worker that took it (only it holds those values).
 */
import type { JobHandler } from '../jobs/job-runner';
import { topUpWarmPool, type WarmPoolSettings } from '../warm-pool/warm-pool';
import { bringUp, type BringUpDeps } from './bring-up';
import type { SessionEnvStash } from './session-env-stash';
import { endWarmSandbox, failSessionAndStop, sessionTarget, warmTarget } from './targets';

export function sessionBringUpHandler(deps: BringUpDeps & { sessionEnv: SessionEnvStash }): JobHandler {
  return {
    async run(job, ctx) {
      const target = await sessionTarget(deps, job.session_id!, {
        needsSessionEnv: job.payload.session_env === true,
      });
      if (target) await bringUp(deps, target, ctx.signal);
    },
    async giveUp(job, reason) {
      if (job.session_id) await failSessionAndStop(deps, job.session_id, `bring-up failed: ${reason}`);
    },
  };
}

export function warmPoolJobHandlers(
  deps: BringUpDeps & { warmPool: WarmPoolSettings },
): Record<'warm_bring_up' | 'warm_pool_top_up', JobHandler> {
  return {
    warm_bring_up: {
      async run(job, ctx) {
        const target = await warmTarget(deps, String(job.payload.warm_sandbox_id ?? ''));
        if (target) await bringUp(deps, target, ctx.signal);
      },
      async giveUp(job, reason) {
        await endWarmSandbox(
          deps,
          String(job.payload.warm_sandbox_id ?? ''),
          `warm bring-up gave up: ${reason}`,
        );
      },
    },
    warm_pool_top_up: {
      run: async () => {
        await topUpWarmPool({ db: deps.db, settings: deps.warmPool, log: deps.log });
      },
    },
  };
}
