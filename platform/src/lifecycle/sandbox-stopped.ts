/**
 * One rule for a sandbox that stopped, whoever noticed it: the local launcher (a
 * process exited) or ECS (a "Task State Change" event to STOPPED). What it served ends
 * with the stop reason: a session still creating fails, a ready one dies (a claimed
 * warm sandbox's session included: its sandbox_ref is the warm sandbox's), a live
 * warm row dies. Every change is conditional on the current status, so duplicate or
 * late notices, and stops the platform asked for itself, change nothing.
 */
import type pg from 'pg';
import { markWarmSandboxDeadByRef } from '../db/warm-pool';
import type { SandboxFailure } from '../sandbox/launcher';
import type { Logger } from '../logger';
import { endSessionsOfStoppedSandbox } from './session-states';

export interface StoppedSandbox {
  ref: string;
  stopReason: string | null;
  failure: SandboxFailure | null;
}

export interface SandboxStoppedOutcome {
  reason: string;
  sessionsFailed: string[];
  sessionsDead: string[];
  warmDead: string | null;
}

/** The failure_reason a stopped sandbox gives what it served. */
export function stoppedReason(sandbox: Pick<StoppedSandbox, 'stopReason' | 'failure'>): string {
  return `sandbox stopped: ${sandbox.failure?.message ?? sandbox.stopReason ?? 'no reason given'}`;
}

export async function endWhatSandboxServed(
  deps: { db: pg.Pool; log: Logger },
  sandbox: StoppedSandbox,
): Promise<SandboxStoppedOutcome> {
  const reason = stoppedReason(sandbox);
  const sessions = await endSessionsOfStoppedSandbox(deps.db, sandbox.ref, reason);
  const warm = await markWarmSandboxDeadByRef(deps.db, sandbox.ref, reason);
  const outcome: SandboxStoppedOutcome = {
    reason,
    sessionsFailed: sessions.filter((s) => s.status === 'failed').map((s) => s.id),
    sessionsDead: sessions.filter((s) => s.status === 'dead').map((s) => s.id),
    warmDead: warm?.id ?? null,
  };
  for (const s of sessions)
    deps.log.warn({ session_id: s.id, status: s.status, reason }, 'session ended: its sandbox stopped');
  return outcome;
}
