/**
 * SQL of the idle reaper's orphan sweep (its status changes are in db/sessions.ts and
 * db/warm-pool.ts, driven by lifecycle/session-states.ts).
 */
import type { Queryable } from './pool';

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
