/**
 * All SQL about sessions. Every status change is one conditional UPDATE whose WHERE
 * names the statuses it may leave, so racing writers cannot undo each other. Which
 * statuses those are is decided in one place, lifecycle/session-states.ts: the
 * status-writing functions here take them as `from` and are imported nowhere else
 * (an eslint rule says so).
 */
import { SESSION_PHASES, type MessagePart, type SessionPhase } from '@lap/sandbox-protocol';
import { replaceLoneSurrogates } from '../validation/text';
import { isUuid, type Queryable } from './pool';

export type SessionStatus = 'creating' | 'ready' | 'dead' | 'failed';

export interface SessionRow {
  id: string;
  agent_id: string;
  title: string | null;
  status: SessionStatus;
  phase: SessionPhase;
  phase_detail: string | null;
  sandbox_ref: string | null;
  sandbox_url: string | null;
  vault_admin_url: string | null;
  tty_url: string | null;
  warm_sandbox_id: string | null;
  harness_session_id: string | null;
  initial_prompt: string | null;
  response: { parts: MessagePart[] } | null;
  failure_reason: string | null;
  idle_timeout_ms: string;
  last_seen_at: Date;
  created_at: Date;
  ready_at: Date | null;
  ended_at: Date | null;
}

/** A session with its agent's harness (the views say whether it has a terminal). */
export interface SessionWithHarness extends SessionRow {
  harness_id: string;
}

export interface SessionListRow extends SessionWithHarness {
  agent_name: string | null;
}

const PHASES = [...SESSION_PHASES] as string[];

export async function insertSession(
  db: Queryable,
  input: {
    agentId: string;
    title: string | null;
    initialPrompt: string | null;
    /** Chosen by the caller when the id must exist before the row (a hand-off to a worker). */
    id?: string;
  },
): Promise<SessionRow> {
  const { rows } = await db.query<SessionRow>(
    `INSERT INTO sessions (id, agent_id, title, initial_prompt)
     VALUES (COALESCE($4::uuid, gen_random_uuid()), $1, $2, $3) RETURNING *`,
    [input.agentId, input.title, input.initialPrompt, input.id ?? null],
  );
  return rows[0]!;
}

export async function getSession(db: Queryable, id: string): Promise<SessionWithHarness | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<SessionWithHarness>(
    'SELECT s.*, a.harness_id FROM sessions s JOIN agents a ON a.id = s.agent_id WHERE s.id = $1',
    [id],
  );
  return rows[0] ?? null;
}

export async function listSessions(
  db: Queryable,
  page: { limit: number; offset: number; agentId?: string; status?: SessionStatus },
): Promise<{ rows: SessionListRow[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (page.agentId) where.push(`s.agent_id = $${params.push(page.agentId)}`);
  if (page.status) where.push(`s.status = $${params.push(page.status)}`);
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const [list, count] = await Promise.all([
    db.query<SessionListRow>(
      `SELECT s.*, a.name AS agent_name, a.harness_id FROM sessions s JOIN agents a ON a.id = s.agent_id
       ${filter} ORDER BY s.created_at DESC, s.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, page.limit, page.offset],
    ),
    db.query<{ total: string }>(`SELECT count(*) AS total FROM sessions s ${filter}`, params),
  ]);
  return { rows: list.rows, total: Number(count.rows[0]!.total) };
}

/**
 * Moves a session forward to `phase` while it is in one of `from`. Never backwards:
 * harness callbacks and the bring-up's own updates may arrive out of order. Returns
 * whether it moved.
 */
export async function writeSessionPhase(
  db: Queryable,
  id: string,
  change: { phase: SessionPhase; detail: string | null; from: readonly SessionStatus[] },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sessions SET phase = $2, phase_detail = $3
     WHERE id = $1 AND status = ANY($5::text[])
       AND coalesce(array_position($4::text[], phase), 0) < array_position($4::text[], $2::text)`,
    [id, change.phase, change.detail, PHASES, change.from],
  );
  return (rowCount ?? 0) > 0;
}

export async function recordSandbox(
  db: Queryable,
  id: string,
  sandbox: { ref: string; sandboxUrl?: string | null; vaultAdminUrl?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE sessions SET sandbox_ref = $2, sandbox_url = coalesce($3, sandbox_url),
       vault_admin_url = coalesce($4, vault_admin_url)
     WHERE id = $1`,
    [id, sandbox.ref, sandbox.sandboxUrl ?? null, sandbox.vaultAdminUrl ?? null],
  );
}

/** The harness's conversation id, once seen on its /health (never overwritten by null). */
export async function recordHarnessSessionId(
  db: Queryable,
  id: string,
  harnessSessionId: string,
): Promise<void> {
  await db.query(
    `UPDATE sessions SET harness_session_id = $2 WHERE id = $1 AND harness_session_id IS DISTINCT FROM $2`,
    [id, harnessSessionId],
  );
}

/** The sandbox of a cold start is replaced (resumed bring-up): forget the old one, back to the first phase. */
export async function resetSessionSandbox(
  db: Queryable,
  id: string,
  from: readonly SessionStatus[],
): Promise<void> {
  await db.query(
    `UPDATE sessions SET sandbox_ref = NULL, sandbox_url = NULL, vault_admin_url = NULL, phase = 'creating_sandbox'
     WHERE id = $1 AND status = ANY($2::text[])`,
    [id, from],
  );
}

/** -> ready with the sandbox's addresses (a cold start's end, or a claimed warm sandbox). */
export async function writeSessionReady(
  db: Queryable,
  id: string,
  sandbox: {
    sandboxUrl: string;
    ttyUrl: string | null;
    harnessSessionId: string | null;
    warm?: { warmSandboxId: string; ref: string; vaultAdminUrl: string | null };
  },
  from: readonly SessionStatus[],
): Promise<SessionRow | null> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'ready', phase = 'ready', phase_detail = NULL, sandbox_url = $2, tty_url = $3,
       harness_session_id = coalesce($4, harness_session_id),
       warm_sandbox_id = coalesce($5, warm_sandbox_id), sandbox_ref = coalesce($6, sandbox_ref),
       vault_admin_url = coalesce($7, vault_admin_url), ready_at = now(), last_seen_at = now()
     WHERE id = $1 AND status = ANY($8::text[]) RETURNING *`,
    [
      id,
      sandbox.sandboxUrl,
      sandbox.ttyUrl,
      sandbox.harnessSessionId,
      sandbox.warm?.warmSandboxId ?? null,
      sandbox.warm?.ref ?? null,
      sandbox.warm?.vaultAdminUrl ?? null,
      from,
    ],
  );
  return rows[0] ?? null;
}

/**
 * -> `to` (failed or dead) with the reason (kept when `reason` is null: a user stop is
 * no failure). Returns the row when this call made the change.
 */
export async function writeSessionEnded(
  db: Queryable,
  id: string,
  change: { to: 'failed' | 'dead'; reason: string | null; from: readonly SessionStatus[] },
): Promise<SessionRow | null> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = $2, failure_reason = coalesce($3, failure_reason), ended_at = now()
     WHERE id = $1 AND status = ANY($4::text[]) RETURNING *`,
    [id, change.to, change.reason, change.from],
  );
  return rows[0] ?? null;
}

/**
 * The sessions whose sandbox this is (a task ARN or a local ref) end: each moves to
 * the status `to` maps its current status to, with the reason. Returns the rows changed.
 */
export async function writeSessionsOfSandboxEnded(
  db: Queryable,
  ref: string,
  to: Partial<Record<SessionStatus, 'failed' | 'dead'>>,
  reason: string,
): Promise<SessionRow[]> {
  const from = Object.keys(to);
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = ($4::jsonb ->> status), failure_reason = $2, ended_at = now()
     WHERE sandbox_ref = $1 AND status = ANY($3::text[]) RETURNING *`,
    [ref, reason, from, JSON.stringify(to)],
  );
  return rows;
}

/** Sessions in `from` created more than `timeoutMs` ago -> failed (the sweep behind each bring-up's own deadline). */
export async function writeTimedOutSessionsFailed(
  db: Queryable,
  timeoutMs: number,
  from: readonly SessionStatus[],
): Promise<SessionRow[]> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'failed', ended_at = now(),
       failure_reason = 'sandbox did not become ready within ' || ($1::bigint / 1000) || ' s (last phase: ' || phase || ')'
     WHERE status = ANY($2::text[]) AND created_at < now() - ($1::bigint * interval '1 millisecond') RETURNING *`,
    [timeoutMs, from],
  );
  return rows;
}

export interface ReapedSession {
  id: string;
  agent_id: string;
  sandbox_ref: string | null;
  failure_reason: string | null;
}

/**
 * Sessions in `from` with no message for longer than their own idle_timeout_ms -> dead.
 * Rows are picked with FOR UPDATE SKIP LOCKED, so two overlapping reaper runs split
 * the work: each row is returned (and its sandbox stopped) by one run only.
 */
export async function writeIdleSessionsDead(
  db: Queryable,
  from: readonly SessionStatus[],
): Promise<ReapedSession[]> {
  const { rows } = await db.query<ReapedSession>(
    `UPDATE sessions s SET status = 'dead', ended_at = now(),
       failure_reason = 'idle timeout: no message for ' || (s.idle_timeout_ms / 1000) || ' s (idle_timeout_ms)'
     WHERE s.id IN (
       SELECT id FROM sessions
       WHERE status = ANY($1::text[]) AND last_seen_at < now() - idle_timeout_ms * interval '1 millisecond'
       FOR UPDATE SKIP LOCKED
     ) AND s.status = ANY($1::text[])
     RETURNING s.id, s.agent_id, s.sandbox_ref, s.failure_reason`,
    [from],
  );
  return rows;
}

/** Every session in `from` -> dead with the reason (local mode: its sandboxes ended with the process). */
export async function writeAllSessionsDead(
  db: Queryable,
  reason: string,
  from: readonly SessionStatus[],
): Promise<SessionRow[]> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'dead', failure_reason = $1, ended_at = now()
     WHERE status = ANY($2::text[]) RETURNING *`,
    [reason, from],
  );
  return rows;
}

/**
 * A turn went through: store the reply and reset the idle clock. PostgreSQL's jsonb
 * cannot hold U+0000 or lone surrogates, which a model may well produce: those are
 * replaced by U+FFFD here, so storing a reply can never fail on its content.
 */
export async function recordResponse(
  db: Queryable,
  id: string,
  response: { parts: MessagePart[] },
): Promise<void> {
  await db.query(`UPDATE sessions SET response = $2, last_seen_at = now() WHERE id = $1`, [
    id,
    storableJson(response),
  ]);
}

/** JSON text jsonb accepts: NUL and lone surrogates become U+FFFD (JSON.stringify escapes them). */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'string' ? replaceLoneSurrogates(v.replaceAll('\u0000', '\uFFFD')) : v,
  );
}

export async function touchSession(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE sessions SET last_seen_at = now() WHERE id = $1`, [id]);
}

export async function liveSessionsOfAgent(db: Queryable, agentId: string): Promise<SessionRow[]> {
  const { rows } = await db.query<SessionRow>(
    `SELECT * FROM sessions WHERE agent_id = $1 AND status IN ('creating', 'ready')`,
    [agentId],
  );
  return rows;
}
