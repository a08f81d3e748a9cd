/**
 * SQL of the idle reaper. Each state change is one conditional UPDATE over rows
 * picked with FOR UPDATE SKIP LOCKED, so two overlapping runs split the work instead
 * of both acting on a row: a row is returned (and its task stopped) by one run only.
 */
import type { Queryable } from './pool';

export interface ReapedSession {
  id: string;
  agent_id: string;
  sandbox_ref: string | null;
  failure_reason: string | null;
}

/** ready sessions with no message for longer than their own idle_timeout_ms -> dead. */
export async function reapIdleSessions(db: Queryable): Promise<ReapedSession[]> {
  const { rows } = await db.query<ReapedSession>(
    `UPDATE sessions s SET status = 'dead', ended_at = now(),
       failure_reason = 'idle timeout: no message for ' || (s.idle_timeout_ms / 1000) || ' s (idle_timeout_ms)'
     WHERE s.id IN (
       SELECT id FROM sessions
       WHERE status = 'ready' AND last_seen_at < now() - idle_timeout_ms * interval '1 millisecond'
       FOR UPDATE SKIP LOCKED
     ) AND s.status = 'ready'
     RETURNING s.id, s.agent_id, s.sandbox_ref, s.failure_reason`,
  );
  return rows;
}

export interface TaggedSandbox {
  sandboxId: string;
  ref: string;
  kind: 'session' | 'warm';
}

/**
 * Of these running tasks, the ones something still owns: a live session whose
 * sandbox it is (or that has not recorded one yet: launch happens before the ARN is
 * written), a live warm row likewise, or a claimed warm row whose session is live.
 * Everything else is an orphan.
 */
export async function ownedSandboxRefs(db: Queryable, tasks: TaggedSandbox[]): Promise<Set<string>> {
  if (tasks.length === 0) return new Set();
  const { rows } = await db.query<{ ref: string }>(
    `SELECT t.ref FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(sandbox_id, ref, kind)
     WHERE (t.kind = 'session' AND EXISTS (
              SELECT 1 FROM sessions s WHERE s.id = t.sandbox_id AND s.status IN ('creating', 'ready')
                AND (s.sandbox_ref IS NULL OR s.sandbox_ref = t.ref)))
        OR (t.kind = 'warm' AND EXISTS (
              SELECT 1 FROM warm_sandboxes w WHERE w.id = t.sandbox_id AND (
                (w.status IN ('provisioning', 'warm') AND (w.sandbox_ref IS NULL OR w.sandbox_ref = t.ref))
                OR (w.status = 'claimed' AND w.sandbox_ref = t.ref AND EXISTS (
                      SELECT 1 FROM sessions s WHERE s.id = w.session_id AND s.status IN ('creating', 'ready'))))))`,
    [tasks.map((t) => t.sandboxId), tasks.map((t) => t.ref), tasks.map((t) => t.kind)],
  );
  return new Set(rows.map((r) => r.ref));
}

/** The session whose sandbox this task is (task events). */
export async function sessionIdForSandbox(db: Queryable, ref: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM sessions WHERE sandbox_ref = $1 ORDER BY created_at DESC LIMIT 1`,
    [ref],
  );
  return rows[0]?.id ?? null;
}
