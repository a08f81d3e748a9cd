/**
 * The durable job queue. A runner claims a job with FOR UPDATE SKIP LOCKED and
 * holds a lease (locked_until) that it extends while it works; a job whose lease
 * ran out (its runner died) can be claimed again by any runner. Payloads never
 * hold secret values.
 */
import type { Queryable } from './pool';

/** Session jobs (runtime) and warm-pool jobs (platform/src/warm-pool, queued by db/warm-pool.ts). */
export type JobKind = 'session_bring_up' | 'deliver_initial_prompt' | 'warm_bring_up' | 'warm_pool_top_up';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: string;
  kind: JobKind;
  session_id: string | null;
  payload: Record<string, unknown>;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  run_at: Date;
  created_at: Date;
}

export interface NewJob {
  kind: JobKind;
  sessionId: string | null;
  payload?: Record<string, unknown>;
  maxAttempts?: number;
}

export async function enqueueJob(db: Queryable, job: NewJob): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (kind, session_id, payload, max_attempts) VALUES ($1, $2, $3, $4) RETURNING *`,
    [job.kind, job.sessionId, JSON.stringify(job.payload ?? {}), job.maxAttempts ?? 5],
  );
  return rows[0]!;
}

/** Inserts a job already claimed by `workerId`: the process that creates it runs it itself. */
export async function enqueueClaimedJob(
  db: Queryable,
  job: NewJob,
  lease: { workerId: string; leaseMs: number },
): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (kind, session_id, payload, max_attempts, status, attempts, locked_by, locked_until)
     VALUES ($1, $2, $3, $4, 'running', 1, $5, now() + $6 * interval '1 millisecond') RETURNING *`,
    [
      job.kind,
      job.sessionId,
      JSON.stringify(job.payload ?? {}),
      job.maxAttempts ?? 5,
      lease.workerId,
      lease.leaseMs,
    ],
  );
  return rows[0]!;
}

/** Claims the next due job (queued, or running with an expired lease). Null when there is none. */
export async function claimNextJob(
  db: Queryable,
  lease: { workerId: string; leaseMs: number; kinds: readonly JobKind[] },
): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,
       locked_until = now() + $2 * interval '1 millisecond'
     WHERE id = (
       SELECT id FROM jobs
       WHERE kind = ANY($3::text[])
         AND ((status = 'queued' AND run_at <= now()) OR (status = 'running' AND locked_until < now()))
       ORDER BY run_at, id
       FOR UPDATE SKIP LOCKED
       LIMIT 1)
     RETURNING *`,
    [lease.workerId, lease.leaseMs, lease.kinds],
  );
  return rows[0] ?? null;
}

/** Extends the lease; false when this runner no longer holds the job (it expired and was taken over). */
export async function extendJobLease(
  db: Queryable,
  id: string,
  workerId: string,
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET locked_until = now() + $3 * interval '1 millisecond'
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [id, workerId, leaseMs],
  );
  return (rowCount ?? 0) > 0;
}

export async function completeJob(db: Queryable, id: string, workerId: string): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'done', finished_at = now(), locked_until = NULL
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [id, workerId],
  );
}

export async function failJob(db: Queryable, id: string, workerId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'failed', last_error = $3, finished_at = now(), locked_until = NULL
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [id, workerId, error],
  );
}

/** Gives the job back to the queue, due again after `delayMs`. */
export async function retryJob(
  db: Queryable,
  id: string,
  workerId: string,
  error: string,
  delayMs: number,
): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'queued', last_error = $3, locked_by = NULL, locked_until = NULL,
       run_at = now() + $4 * interval '1 millisecond'
     WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [id, workerId, error, delayMs],
  );
}

export async function jobsOfSession(db: Queryable, sessionId: string): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>('SELECT * FROM jobs WHERE session_id = $1 ORDER BY id', [
    sessionId,
  ]);
  return rows;
}

/** The session's initial prompt is still queued or running (a message waits behind it). */
export async function initialPromptPending(db: Queryable, sessionId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM jobs WHERE session_id = $1 AND kind = 'deliver_initial_prompt' AND status IN ('queued', 'running')`,
    [sessionId],
  );
  return (rowCount ?? 0) > 0;
}
