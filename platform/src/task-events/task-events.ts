/**
 * ECS "Task State Change" events (EventBridge -> the `task-events` Lambda): a sandbox
 * task that reached STOPPED ends what it served. A session still `creating` fails and
 * a `ready` one dies, both with the classified stop reason (image pull failure, Spot
 * reclaim, container exit code, ...); a warm row dies. Tasks are found by ARN (ECS
 * events carry no tags). Every update is conditional on the current status, so
 * duplicate or late events (EventBridge delivers at least once, in any order) and
 * stops the platform asked for itself change nothing.
 */
import type pg from 'pg';
import { z } from 'zod';
import { sessionIdForSandbox } from '../db/reaper';
import { failSession, markSessionDead } from '../db/sessions';
import { markWarmSandboxDeadByRef } from '../db/warm-pool';
import { sandboxStateOf } from '../sandbox/ecs/task-state';
import type { Logger } from '../worker/logger';

const keyValue = z.object({ key: z.string().optional(), value: z.string().optional() });

export const taskStateChangeEventSchema = z.object({
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  detail: z.object({
    taskArn: z.string().min(1),
    clusterArn: z.string().optional(),
    lastStatus: z.string(),
    desiredStatus: z.string().optional(),
    stopCode: z.string().optional(),
    stoppedReason: z.string().optional(),
    startedAt: z.string().optional(),
    stoppedAt: z.string().optional(),
    containers: z
      .array(
        z.object({
          name: z.string().optional(),
          exitCode: z.number().optional(),
          reason: z.string().optional(),
        }),
      )
      .optional(),
    attachments: z
      .array(
        z.object({
          type: z.string().optional(),
          details: z
            .array(z.object({ name: z.string().optional(), value: z.string().optional() }))
            .optional(),
        }),
      )
      .optional(),
    tags: z.array(keyValue).optional(),
  }),
});
export type TaskStateChangeEvent = z.infer<typeof taskStateChangeEventSchema>;

export type TaskEventOutcome =
  | { action: 'ignored'; why: string }
  | {
      action: 'handled';
      taskArn: string;
      reason: string;
      sessionFailed: string | null;
      sessionDead: string | null;
      warmDead: string | null;
    };

export interface TaskEventDeps {
  db: pg.Pool;
  log: Logger;
  /** Only events of this cluster are acted on (the rule filters too; this guards a misrouted event). */
  clusterArn?: string;
}

export async function handleTaskStateChange(deps: TaskEventDeps, input: unknown): Promise<TaskEventOutcome> {
  const parsed = taskStateChangeEventSchema.safeParse(input);
  if (!parsed.success) {
    return {
      action: 'ignored',
      why: `not an ECS Task State Change: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    };
  }
  const task = parsed.data.detail;
  if (deps.clusterArn && task.clusterArn && task.clusterArn !== deps.clusterArn) {
    return { action: 'ignored', why: `task of another cluster (${task.clusterArn})` };
  }
  if (task.lastStatus !== 'STOPPED') return { action: 'ignored', why: `lastStatus ${task.lastStatus}` };

  const state = sandboxStateOf(task);
  const reason = state.failure?.message ?? `sandbox stopped: ${state.stopReason ?? 'no reason given'}`;
  const sessionId = await sessionIdForSandbox(deps.db, task.taskArn);
  const failed = sessionId ? await failSession(deps.db, sessionId, reason) : null;
  const dead = sessionId && !failed ? await markSessionDead(deps.db, sessionId, reason) : null;
  const warm = await markWarmSandboxDeadByRef(deps.db, task.taskArn, reason);
  const outcome: TaskEventOutcome = {
    action: 'handled',
    taskArn: task.taskArn,
    reason,
    sessionFailed: failed?.id ?? null,
    sessionDead: dead?.id ?? null,
    warmDead: warm?.id ?? null,
  };
  deps.log.info({ ...outcome, failure_code: state.failure?.code ?? null }, 'sandbox task stopped');
  return outcome;
}
