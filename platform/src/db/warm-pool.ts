/**
 * All SQL of the warm pool. Every status change is a single conditional UPDATE
 * (the WHERE names the status it leaves), so overlapping passes, the worker and the
 * web service never undo each other's work, and `expires_at` is written only by the
 * INSERT: no statement here ever extends a TTL.
 */
import type { Queryable } from './pool';

export type WarmSandboxStatus = 'provisioning' | 'warm' | 'claimed' | 'dead';

export interface WarmSandboxRow {
  id: string;
  agent_id: string;
  agent_fingerprint: string;
  status: WarmSandboxStatus;
  sandbox_ref: string | null;
  sandbox_url: string | null;
  vault_admin_url: string | null;
  session_id: string | null;
  harness_session_id: string | null;
  failure_reason: string | null;
  created_at: Date;
  ready_at: Date | null;
  expires_at: Date;
  claimed_at: Date | null;
  ended_at: Date | null;
}

/** Job kinds the warm pool queues for the worker. */
export const WARM_BRING_UP_JOB = 'warm_bring_up';
export const WARM_POOL_TOP_UP_JOB = 'warm_pool_top_up';

export interface EligibleAgentRow {
  agent_id: string;
  fingerprint: string;
  recent_sessions: number;
  last_session_at: Date;
  /** Live (provisioning or warm), unexpired warm sandboxes with the current fingerprint. */
  live: number;
}

/** Agents with a session in the last `recentHours`, with their activity and current warm count. */
export async function eligibleAgents(db: Queryable, recentHours: number): Promise<EligibleAgentRow[]> {
  const { rows } = await db.query<EligibleAgentRow>(
    `WITH recent AS (
       SELECT agent_id, count(*)::int AS recent_sessions, max(created_at) AS last_session_at
       FROM sessions WHERE created_at > now() - $1::float8 * interval '1 hour'
       GROUP BY agent_id
     ), fingerprinted AS (
       SELECT r.*, lap_agent_fingerprint(r.agent_id) AS fingerprint FROM recent r
     )
     SELECT f.agent_id, f.fingerprint, f.recent_sessions, f.last_session_at,
       (SELECT count(*)::int FROM warm_sandboxes w
         WHERE w.agent_id = f.agent_id AND w.status IN ('provisioning', 'warm')
           AND w.expires_at > now() AND w.agent_fingerprint = f.fingerprint) AS live
     FROM fingerprinted f WHERE f.fingerprint IS NOT NULL`,
    [recentHours],
  );
  return rows;
}

/** Every live warm sandbox counts against the global budget, whatever its agent. */
export async function countLiveWarmSandboxes(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM warm_sandboxes WHERE status IN ('provisioning', 'warm')`,
  );
  return rows[0]!.n;
}

/**
 * Serialises top-up planning across processes (the scheduled pass, claim-triggered
 * top-ups) for the rest of the caller's transaction, so two planners cannot both
 * fill the same free slot.
 */
export async function lockWarmPoolPlanning(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(7346132010)');
}

/** Inserts provisioning rows and, in the same statement, one bring-up job per row for the worker. */
export async function insertWarmSandboxes(
  db: Queryable,
  slots: Array<{ agentId: string; fingerprint: string }>,
  ttlMinutes: number,
): Promise<WarmSandboxRow[]> {
  if (slots.length === 0) return [];
  const { rows } = await db.query<WarmSandboxRow>(
    `WITH inserted AS (
       INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, expires_at)
       SELECT agent_id, fingerprint, now() + $3::float8 * interval '1 minute'
       FROM unnest($1::uuid[], $2::text[]) AS s(agent_id, fingerprint)
       RETURNING *
     ), queued AS (
       INSERT INTO jobs (kind, payload, max_attempts)
       SELECT $4, jsonb_build_object('warm_sandbox_id', id), 1 FROM inserted
     )
     SELECT * FROM inserted`,
    [slots.map((s) => s.agentId), slots.map((s) => s.fingerprint), ttlMinutes, WARM_BRING_UP_JOB],
  );
  return rows;
}

/** Queues one top-up for the worker unless one is already waiting (claims come in bursts). */
export async function requestWarmPoolTopUp(db: Queryable): Promise<void> {
  await db.query(
    `INSERT INTO jobs (kind, max_attempts)
     SELECT $1, 1 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND status = 'queued')`,
    [WARM_POOL_TOP_UP_JOB],
  );
}

/**
 * Atomically claims the oldest warm sandbox of the agent that still matches the
 * agent's current settings and has at least `minRemainingMs` to live. Concurrent
 * claimers skip rows another transaction holds, so a sandbox goes to one session only.
 */
export async function claimWarmSandbox(
  db: Queryable,
  input: { agentId: string; sessionId: string; minRemainingMs: number },
): Promise<WarmSandboxRow | null> {
  const { rows } = await db.query<WarmSandboxRow>(
    `UPDATE warm_sandboxes SET status = 'claimed', session_id = $2, claimed_at = now()
     WHERE id = (
       SELECT w.id FROM warm_sandboxes w
       WHERE w.agent_id = $1 AND w.status = 'warm' AND w.sandbox_url IS NOT NULL AND w.sandbox_ref IS NOT NULL
         AND w.expires_at > now() + $3::float8 * interval '1 millisecond'
         AND w.agent_fingerprint = lap_agent_fingerprint($1)
       ORDER BY w.created_at
       LIMIT 1
       FOR UPDATE SKIP LOCKED
     ) AND status = 'warm'
     RETURNING *`,
    [input.agentId, input.sessionId, input.minRemainingMs],
  );
  return rows[0] ?? null;
}

export async function getWarmSandbox(db: Queryable, id: string): Promise<WarmSandboxRow | null> {
  const { rows } = await db.query<WarmSandboxRow>('SELECT * FROM warm_sandboxes WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export async function findWarmSandboxByRef(db: Queryable, ref: string): Promise<WarmSandboxRow | null> {
  const { rows } = await db.query<WarmSandboxRow>('SELECT * FROM warm_sandboxes WHERE sandbox_ref = $1', [
    ref,
  ]);
  return rows[0] ?? null;
}

/** The task was started. False when the row left `provisioning` meanwhile (the caller stops the task). */
export async function recordWarmSandboxRef(db: Queryable, id: string, ref: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE warm_sandboxes SET sandbox_ref = $2 WHERE id = $1 AND status = 'provisioning'`,
    [id, ref],
  );
  return (rowCount ?? 0) > 0;
}

export async function recordWarmSandboxUrls(
  db: Queryable,
  id: string,
  urls: { sandboxUrl: string; vaultAdminUrl: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE warm_sandboxes SET sandbox_url = $2, vault_admin_url = $3 WHERE id = $1 AND status = 'provisioning'`,
    [id, urls.sandboxUrl, urls.vaultAdminUrl],
  );
  return (rowCount ?? 0) > 0;
}

/** provisioning -> warm (the harness listens). Expired rows stay for the recycler. */
export async function markWarmSandboxWarm(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE warm_sandboxes SET status = 'warm', ready_at = now()
     WHERE id = $1 AND status = 'provisioning' AND sandbox_url IS NOT NULL AND expires_at > now()`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/** The harness's conversation id of a warm sandbox, once seen on its /health. */
export async function recordWarmHarnessSessionId(
  db: Queryable,
  id: string,
  harnessSessionId: string,
): Promise<void> {
  await db.query(`UPDATE warm_sandboxes SET harness_session_id = $2 WHERE id = $1`, [id, harnessSessionId]);
}

/** Every live (provisioning or warm) row -> dead: local mode's sandboxes ended with its previous process. */
export async function markAllLiveWarmSandboxesDead(db: Queryable, reason: string): Promise<WarmSandboxRow[]> {
  const { rows } = await db.query<WarmSandboxRow>(
    `UPDATE warm_sandboxes SET status = 'dead', failure_reason = $1, ended_at = now()
     WHERE status IN ('provisioning', 'warm') RETURNING *`,
    [reason],
  );
  return rows;
}

/** provisioning/warm -> dead. Returns the row when this call made the change (its task is the caller's to stop). */
export async function markWarmSandboxDead(
  db: Queryable,
  id: string,
  reason: string,
): Promise<WarmSandboxRow | null> {
  const { rows } = await db.query<WarmSandboxRow>(
    `UPDATE warm_sandboxes SET status = 'dead', failure_reason = $2, ended_at = now()
     WHERE id = $1 AND status IN ('provisioning', 'warm') RETURNING *`,
    [id, reason],
  );
  return rows[0] ?? null;
}

/** Any status but dead -> dead, by task ARN (the task stopped). Claimed rows end with their session. */
export async function markWarmSandboxDeadByRef(
  db: Queryable,
  ref: string,
  reason: string,
): Promise<WarmSandboxRow | null> {
  const { rows } = await db.query<WarmSandboxRow>(
    `UPDATE warm_sandboxes SET status = 'dead', failure_reason = coalesce(failure_reason, $2), ended_at = now()
     WHERE sandbox_ref = $1 AND status <> 'dead' RETURNING *`,
    [ref, reason],
  );
  return rows[0] ?? null;
}

/**
 * Recycles live warm sandboxes that must go, in one statement: expired ones (TTL
 * fixed at creation), stale ones (the agent's settings changed or it was deleted),
 * and, when the budget shrank, the surplus that expires soonest (`budget` null skips
 * that: the idle reaper does not know the budget). Returns the rows it ended (their
 * tasks are the caller's to stop), each with its reason.
 */
export async function recycleWarmSandboxes(db: Queryable, budget: number | null): Promise<WarmSandboxRow[]> {
  const { rows } = await db.query<WarmSandboxRow>(
    `WITH live AS (
       SELECT w.id, w.expires_at, w.agent_fingerprint, lap_agent_fingerprint(w.agent_id) AS current_fingerprint
       FROM warm_sandboxes w WHERE w.status IN ('provisioning', 'warm')
       FOR UPDATE SKIP LOCKED
     ), verdict AS (
       SELECT id,
         CASE
           WHEN expires_at <= now() THEN 'expired: warm sandbox TTL reached'
           WHEN current_fingerprint IS DISTINCT FROM agent_fingerprint THEN 'stale: the agent''s settings changed'
         END AS reason
       FROM live
     ), keepers AS (
       SELECT l.id, row_number() OVER (ORDER BY l.expires_at DESC, l.id) AS rank
       FROM live l JOIN verdict v USING (id) WHERE v.reason IS NULL
     ), doomed AS (
       SELECT id, reason FROM verdict WHERE reason IS NOT NULL
       UNION ALL
       SELECT id, 'surplus: WARM_POOL_SIZE is lower than the live warm sandboxes' FROM keepers WHERE $1::int IS NOT NULL AND rank > $1::int
     )
     UPDATE warm_sandboxes w SET status = 'dead', failure_reason = d.reason, ended_at = now()
     FROM doomed d WHERE w.id = d.id AND w.status IN ('provisioning', 'warm')
     RETURNING w.*`,
    [budget],
  );
  return rows;
}

export async function warmCountsForAgent(
  db: Queryable,
  agentId: string,
): Promise<Record<WarmSandboxStatus, number>> {
  const { rows } = await db.query<{ status: WarmSandboxStatus; n: number }>(
    `SELECT status, count(*)::int AS n FROM warm_sandboxes WHERE agent_id = $1 GROUP BY status`,
    [agentId],
  );
  const counts: Record<WarmSandboxStatus, number> = { provisioning: 0, warm: 0, claimed: 0, dead: 0 };
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** Task ARNs of warm sandboxes that should have a live task (orphan sweep). */
export async function liveWarmSandboxRefs(db: Queryable, refs: string[]): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const { rows } = await db.query<{ sandbox_ref: string }>(
    `SELECT sandbox_ref FROM warm_sandboxes
     WHERE sandbox_ref = ANY($1::text[]) AND status IN ('provisioning', 'warm', 'claimed')`,
    [refs],
  );
  return new Set(rows.map((r) => r.sandbox_ref));
}
