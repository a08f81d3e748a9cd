/** All SQL about sessions. Status changes are guarded in the WHERE clause, so racing writers cannot undo each other. */
import { SESSION_PHASES, type MessagePart, type SessionPhase } from '@lap/sandbox-protocol';
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
  initial_prompt: string | null;
  response: { parts: MessagePart[] } | null;
  failure_reason: string | null;
  idle_timeout_ms: string;
  last_seen_at: Date;
  created_at: Date;
  ready_at: Date | null;
  ended_at: Date | null;
}

const PHASES = [...SESSION_PHASES] as string[];

export async function insertSession(
  db: Queryable,
  input: { agentId: string; title: string | null; initialPrompt: string | null },
): Promise<SessionRow> {
  const { rows } = await db.query<SessionRow>(
    `INSERT INTO sessions (agent_id, title, initial_prompt) VALUES ($1, $2, $3) RETURNING *`,
    [input.agentId, input.title, input.initialPrompt],
  );
  return rows[0]!;
}

export async function getSession(db: Queryable, id: string): Promise<SessionRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export interface SessionListRow extends SessionRow {
  agent_name: string | null;
  harness_id: string;
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
 * Moves a creating session forward to `phase`. Never backwards: harness callbacks
 * and the worker's own updates may arrive out of order. Returns whether it moved.
 */
export async function advancePhase(
  db: Queryable,
  id: string,
  phase: SessionPhase,
  detail: string | null = null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sessions SET phase = $2, phase_detail = $3
     WHERE id = $1 AND status = 'creating'
       AND coalesce(array_position($4::text[], phase), 0) < array_position($4::text[], $2::text)`,
    [id, phase, detail, PHASES],
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

/** The sandbox of a cold start was replaced (resumed bring-up): forget the old one. */
export async function clearSandbox(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE sessions SET sandbox_ref = NULL, sandbox_url = NULL, vault_admin_url = NULL, phase = 'creating_sandbox'
     WHERE id = $1 AND status = 'creating'`,
    [id],
  );
}

export async function markSessionReady(
  db: Queryable,
  id: string,
  sandbox: { sandboxUrl: string; ttyUrl: string | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sessions SET status = 'ready', phase = 'ready', phase_detail = NULL, sandbox_url = $2, tty_url = $3,
       ready_at = now(), last_seen_at = now()
     WHERE id = $1 AND status = 'creating'`,
    [id, sandbox.sandboxUrl, sandbox.ttyUrl],
  );
  return (rowCount ?? 0) > 0;
}

/** A claimed warm sandbox: the session is ready at once. */
export async function attachWarmSandbox(
  db: Queryable,
  id: string,
  warm: {
    warmSandboxId: string;
    ref: string;
    sandboxUrl: string;
    vaultAdminUrl: string | null;
    ttyUrl: string | null;
  },
): Promise<SessionRow> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'ready', phase = 'ready', warm_sandbox_id = $2, sandbox_ref = $3, sandbox_url = $4,
       vault_admin_url = $5, tty_url = $6, ready_at = now(), last_seen_at = now()
     WHERE id = $1 RETURNING *`,
    [id, warm.warmSandboxId, warm.ref, warm.sandboxUrl, warm.vaultAdminUrl, warm.ttyUrl],
  );
  return rows[0]!;
}

/** creating -> failed. Returns the row when this call made the change. */
export async function failSession(db: Queryable, id: string, reason: string): Promise<SessionRow | null> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'failed', failure_reason = $2, ended_at = now()
     WHERE id = $1 AND status = 'creating' RETURNING *`,
    [id, reason],
  );
  return rows[0] ?? null;
}

/** creating/ready -> dead. Returns the row when this call made the change. */
export async function markSessionDead(
  db: Queryable,
  id: string,
  reason: string | null,
): Promise<SessionRow | null> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'dead', failure_reason = coalesce($2, failure_reason), ended_at = now()
     WHERE id = $1 AND status IN ('creating', 'ready') RETURNING *`,
    [id, reason],
  );
  return rows[0] ?? null;
}

/** A message went through: store the reply and reset the idle clock. */
export async function recordResponse(
  db: Queryable,
  id: string,
  response: { parts: MessagePart[] },
): Promise<void> {
  await db.query(`UPDATE sessions SET response = $2, last_seen_at = now() WHERE id = $1`, [
    id,
    JSON.stringify(response),
  ]);
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

/** Sessions still creating after the timeout are failed (the sweep behind the per-job deadline). */
export async function failTimedOutCreatingSessions(db: Queryable, timeoutMs: number): Promise<SessionRow[]> {
  const { rows } = await db.query<SessionRow>(
    `UPDATE sessions SET status = 'failed', ended_at = now(),
       failure_reason = 'sandbox did not become ready within ' || ($1::bigint / 1000) || ' s (last phase: ' || phase || ')'
     WHERE status = 'creating' AND created_at < now() - ($1::bigint * interval '1 millisecond') RETURNING *`,
    [timeoutMs],
  );
  return rows;
}

/** Local mode start: the sandboxes of a previous run are gone, so its ready sessions are dead. */
export async function endReadySessions(db: Queryable, reason: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE sessions SET status = 'dead', failure_reason = $1, ended_at = now() WHERE status = 'ready'`,
    [reason],
  );
  return rowCount ?? 0;
}
