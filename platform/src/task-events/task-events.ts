/**
 * ECS "Task State Change" events (EventBridge -> the `task-events` Lambda): a sandbox
 * task that reached STOPPED ends what it served, by the one rule in
 * lifecycle/sandbox-stopped.ts, with the classified stop reason (image pull failure,
 * Spot reclaim, container exit code, ...). Tasks are found by ARN (ECS events carry no
 * tags). EventBridge delivers at least once, in any order: the rule's conditional
 * updates make duplicates and late events change nothing.
 */
import type pg from 'pg';
import { z } from 'zod';
import { endWhatSandboxServed } from '../lifecycle/sandbox-stopped';
import type { Logger } from '../logger';
import { sandboxStateOf } from '../sandbox/ecs/task-state';

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
  const ended = await endWhatSandboxServed(deps, {
    ref: task.taskArn,
    stopReason: state.stopReason,
    failure: state.failure,
  });
  // A task serves one session at most (its own, or the one that claimed it warm).
  const outcome: TaskEventOutcome = {
    action: 'handled',
    taskArn: task.taskArn,
    reason: ended.reason,
    sessionFailed: ended.sessionsFailed[0] ?? null,
    sessionDead: ended.sessionsDead[0] ?? null,
    warmDead: ended.warmDead,
  };
  deps.log.info({ ...outcome, failure_code: state.failure?.code ?? null }, 'sandbox task stopped');
  return outcome;
}
