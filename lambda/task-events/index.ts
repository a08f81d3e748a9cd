/**
 * task-events Lambda (EventBridge rule: source aws.ecs, detail-type "ECS Task State
 * Change", detail.clusterArn = the sandbox cluster, detail.lastStatus = STOPPED):
 * ends the session or warm sandbox the stopped task served. Duplicate-safe.
 */
import type { z } from 'zod';
import { handleTaskStateChange, type TaskEventOutcome } from '../../platform/src/task-events/task-events';
import { emitMetrics } from '../shared/metrics';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { taskEventsFunctionEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime<z.output<typeof taskEventsFunctionEnvSchema>> | null = null;

export async function handler(event: unknown): Promise<TaskEventOutcome> {
  runtime ??= createLambdaRuntime('task-events', taskEventsFunctionEnvSchema);
  const { log, env } = runtime;
  const outcome = await runtime.withDatabase((db) =>
    handleTaskStateChange({ db, log, clusterArn: env.SANDBOX_CLUSTER_ARN }, event),
  );
  if (outcome.action === 'ignored') {
    log.info({ why: outcome.why }, 'task event ignored');
    return outcome;
  }
  emitMetrics(
    env.METRICS_NAMESPACE,
    { Environment: env.SANDBOX_ENVIRONMENT },
    {
      SandboxTasksStopped: 1,
      SessionsFailedByTaskStop: outcome.sessionFailed ? 1 : 0,
      SessionsEndedByTaskStop: outcome.sessionDead ? 1 : 0,
      WarmSandboxesEndedByTaskStop: outcome.warmDead ? 1 : 0,
    },
  );
  return outcome;
}
