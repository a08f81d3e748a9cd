/**
 * The session state machine: every status and phase change a session can make, with
 * the statuses it may make it from. Nothing else writes a session's status or phase
 * (db/sessions.ts's writers are imported only here: eslint's no-restricted-imports).
 *
 *   creating --ready-->  ready      bring-up finished, or a warm sandbox was claimed
 *   creating --failed--> failed     bring-up failed or timed out, the harness reported a
 *                                   failure, or the sandbox stopped while coming up
 *   creating|ready --dead--> dead   stopped by the user or with its agent, its sandbox
 *                                   stopped, died or stayed unreachable, idle timeout,
 *                                   local mode restarted
 *   failed, dead: final.
 *
 * Phases (SESSION_PHASES) only move forward, and only while creating; a resumed
 * bring-up that replaces its sandbox goes back to `creating_sandbox`; ready sets `ready`.
 */
import type { SessionPhase } from '@lap/sandbox-protocol';
import {
  recordHarnessSessionId,
  resetSessionSandbox,
  writeAllSessionsDead,
  writeIdleSessionsDead,
  writeSessionEnded,
  writeSessionPhase,
  writeSessionReady,
  writeSessionsOfSandboxEnded,
  writeTimedOutSessionsFailed,
  type ReapedSession,
  type SessionRow,
  type SessionStatus,
} from '../db/sessions';
import type { Queryable } from '../db/pool';

type FinalOrReady = Exclude<SessionStatus, 'creating'>;

/** The statuses a session may enter each status from. */
export const SESSION_TRANSITIONS: Record<FinalOrReady, readonly SessionStatus[]> = {
  ready: ['creating'],
  failed: ['creating'],
  dead: ['creating', 'ready'],
};

/** Phases are written only while the session is creating. */
const PHASE_WRITABLE_IN: readonly SessionStatus[] = ['creating'];

/** Moves a creating session forward to `phase` (never backwards). Returns whether it moved. */
export function advancePhase(
  db: Queryable,
  id: string,
  phase: SessionPhase,
  detail: string | null = null,
): Promise<boolean> {
  return writeSessionPhase(db, id, { phase, detail, from: PHASE_WRITABLE_IN });
}

/** A resumed bring-up replaces the sandbox: back to the first phase, no sandbox recorded. */
export function restartBringUp(db: Queryable, id: string): Promise<void> {
  return resetSessionSandbox(db, id, PHASE_WRITABLE_IN);
}

/** creating -> ready. Null when the session had left `creating` (stopped, failed meanwhile). */
export function markReady(
  db: Queryable,
  id: string,
  sandbox: Parameters<typeof writeSessionReady>[2],
): Promise<SessionRow | null> {
  return writeSessionReady(db, id, sandbox, SESSION_TRANSITIONS.ready);
}

/** creating -> failed. Returns the row when this call made the change. */
export function failSession(db: Queryable, id: string, reason: string): Promise<SessionRow | null> {
  return writeSessionEnded(db, id, { to: 'failed', reason, from: SESSION_TRANSITIONS.failed });
}

/**
 * creating/ready -> dead. `reason` null keeps failure_reason empty (a user's stop is
 * not a failure). Returns the row when this call made the change.
 */
export function markDead(db: Queryable, id: string, reason: string | null): Promise<SessionRow | null> {
  return writeSessionEnded(db, id, { to: 'dead', reason, from: SESSION_TRANSITIONS.dead });
}

/**
 * Its sandbox stopped (ECS task-state event, a local process exit): a session still
 * creating fails, a ready one dies, both with the stop reason. Returns the rows changed.
 */
export function endSessionsOfStoppedSandbox(
  db: Queryable,
  ref: string,
  reason: string,
): Promise<SessionRow[]> {
  return writeSessionsOfSandboxEnded(db, ref, { creating: 'failed', ready: 'dead' }, reason);
}

/** creating past the timeout -> failed. */
export function failTimedOutCreating(db: Queryable, timeoutMs: number): Promise<SessionRow[]> {
  return writeTimedOutSessionsFailed(db, timeoutMs, SESSION_TRANSITIONS.failed);
}

/** ready with no message for longer than idle_timeout_ms -> dead. */
export function reapIdleSessions(db: Queryable): Promise<ReapedSession[]> {
  return writeIdleSessionsDead(db, ['ready']);
}

/** Local mode: every ready session -> dead (their sandboxes ended with the process that ran them). */
export function endReadySessions(db: Queryable, reason: string): Promise<SessionRow[]> {
  return writeAllSessionsDead(db, reason, ['ready']);
}

/** The harness's conversation id (not a status: any live session may learn it). */
export function noteHarnessSessionId(db: Queryable, id: string, harnessSessionId: string): Promise<void> {
  return recordHarnessSessionId(db, id, harnessSessionId);
}
