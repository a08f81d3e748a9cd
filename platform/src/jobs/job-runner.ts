/**
 * Runs durable jobs from the `jobs` table. A runner claims due jobs (FOR UPDATE
 * SKIP LOCKED, see db/jobs.ts), extends its lease while a job runs, and gives a
 * job back (retry with backoff) or fails it when its handler throws. A job whose
 * runner died is claimed again once its lease runs out; a job that has used up
 * its attempts is given up, never left running forever.
 *
 * Polling backs off while there is no work, so an idle platform lets its database
 * sleep: each empty look doubles the wait, from `busyMs` up to `idleMaxMs`
 * (JOB_POLL_IDLE_MAX_MS); finding a job or a local poke() starts again from `busyMs`.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import {
  claimNextJob,
  completeJob,
  extendJobLease,
  failJob,
  retryJob,
  type JobKind,
  type JobRow,
} from '../db/jobs';
import type { Logger } from '../logger';

export interface JobContext {
  /** Aborted when the lease was lost (another runner took the job over) or the runner is shutting down hard. */
  signal: AbortSignal;
  workerId: string;
}

export interface JobHandler {
  run(job: JobRow, context: JobContext): Promise<void>;
  /** Called once when the job will not run again (attempts used up); e.g. fail its session. */
  giveUp?(job: JobRow, reason: string): Promise<void>;
}

export interface JobRunnerPolling {
  /** The wait after a look that found work (and the first wait after a poke). */
  busyMs: number;
  /** The longest wait between two looks while nothing is queued (JOB_POLL_IDLE_MAX_MS). */
  idleMaxMs: number;
}

export const DEFAULT_POLLING: JobRunnerPolling = { busyMs: 1000, idleMaxMs: 300_000 };

export interface JobRunnerOptions {
  db: pg.Pool;
  handlers: Partial<Record<JobKind, JobHandler>>;
  log: Logger;
  leaseMs?: number;
  polling?: Partial<JobRunnerPolling>;
  /** Jobs run at once by this runner (bring-ups mostly wait on sandboxes). */
  concurrency?: number;
  workerId?: string;
}

export class JobRunner {
  readonly workerId: string;
  readonly leaseMs: number;
  readonly polling: JobRunnerPolling;
  private readonly concurrency: number;
  private handlers: Partial<Record<JobKind, JobHandler>>;
  private readonly inFlight = new Map<
    string,
    { kind: JobKind; done: Promise<void>; abort: AbortController }
  >();
  private readonly lastRanAt = new Map<JobKind, number>();
  private running = false;
  private poked = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** The wait before the next look. */
  private nextWaitMs: number;

  constructor(private readonly options: JobRunnerOptions) {
    this.workerId =
      options.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.polling = { ...DEFAULT_POLLING, ...options.polling };
    this.concurrency = options.concurrency ?? 8;
    this.handlers = options.handlers;
    this.nextWaitMs = this.polling.busyMs;
  }

  /** The handlers (set after construction when a handler needs the runner's own users). */
  setHandlers(handlers: Partial<Record<JobKind, JobHandler>>): void {
    this.handlers = handlers;
  }

  private get kinds(): JobKind[] {
    return Object.keys(this.handlers) as JobKind[];
  }

  /** How long the poll loop will wait next (tests, diagnostics). */
  get currentWaitMs(): number {
    return this.nextWaitMs;
  }

  /** A job of this kind ran (or runs) in this process at or after `since`. */
  ranSince(kind: JobKind, since: number): boolean {
    if ([...this.inFlight.values()].some((j) => j.kind === kind)) return true;
    return (this.lastRanAt.get(kind) ?? 0) >= since;
  }

  /** Starts claiming queued jobs (the worker role). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pollLoop();
  }

  /** A job was just queued: look now instead of at the next poll, and poll briskly again. */
  poke(): void {
    this.poked = true;
    this.nextWaitMs = this.polling.busyMs;
    this.wake?.();
  }

  /** Runs a job this process inserted already claimed (enqueueClaimedJob). */
  runOwned(job: JobRow): Promise<void> {
    return this.execute(job);
  }

  /** Stops claiming, waits up to `drainMs` for running jobs, then aborts the rest (their leases lapse and others resume them). */
  async stop(drainMs = 20_000): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    const all = Promise.all([...this.inFlight.values()].map((j) => j.done));
    const drained = await Promise.race([all.then(() => true), delay(drainMs).then(() => false)]);
    if (!drained) {
      for (const j of this.inFlight.values()) j.abort.abort(new Error('runner shutting down'));
      await Promise.race([all, delay(5000)]);
    }
  }

  /** Claims and runs due jobs until none is left or the runner is full. Returns how many it started. */
  async claimDue(): Promise<number> {
    let started = 0;
    while (this.inFlight.size < this.concurrency) {
      const job = await claimNextJob(this.options.db, {
        workerId: this.workerId,
        leaseMs: this.leaseMs,
        kinds: this.kinds,
      });
      if (!job) break;
      started++;
      void this.execute(job);
    }
    return started;
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      this.poked = false;
      let started = 0;
      try {
        started = await this.claimDue();
      } catch (err) {
        this.options.log.error({ err: { message: (err as Error).message } }, 'job claim failed');
      }
      if (!this.running) break;
      // Work found (or running, or a poke meanwhile): look again soon. Nothing: wait twice as long, up to the idle maximum.
      const busy = started > 0 || this.inFlight.size > 0 || this.poked;
      this.nextWaitMs = busy
        ? this.polling.busyMs
        : Math.min(this.polling.idleMaxMs, Math.max(this.polling.busyMs, this.nextWaitMs * 2));
      if (this.poked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.nextWaitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private execute(job: JobRow): Promise<void> {
    const abort = new AbortController();
    this.lastRanAt.set(job.kind, Date.now());
    const done = this.runWithLease(job, abort).finally(() => {
      this.lastRanAt.set(job.kind, Date.now());
      this.inFlight.delete(job.id);
      // A finished job often queued the next (a ready session's initial prompt): look now.
      this.poke();
    });
    this.inFlight.set(job.id, { kind: job.kind, done, abort });
    return done;
  }

  private async runWithLease(job: JobRow, abort: AbortController): Promise<void> {
    const { db, log } = this.options;
    const handler = this.handlers[job.kind];
    const fields = { job_id: job.id, kind: job.kind, session_id: job.session_id, attempt: job.attempts };
    if (!handler) {
      await failJob(db, job.id, this.workerId, `no handler for job kind ${job.kind}`);
      return;
    }
    if (job.attempts > job.max_attempts) {
      const reason = `gave up after ${job.max_attempts} attempts (last error: ${job.last_error ?? 'the runner stopped'})`;
      await failJob(db, job.id, this.workerId, reason);
      await handler.giveUp?.(job, reason);
      log.warn(fields, 'job given up');
      return;
    }
    const heartbeat = setInterval(
      () => {
        extendJobLease(db, job.id, this.workerId, this.leaseMs)
          .then((held) => {
            if (!held) abort.abort(new Error('job lease lost'));
          })
          .catch(() => undefined);
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    try {
      log.info(fields, 'job started');
      await handler.run(job, { signal: abort.signal, workerId: this.workerId });
      await completeJob(db, job.id, this.workerId);
      log.info(fields, 'job done');
    } catch (err) {
      const message = (err as Error).message;
      if (abort.signal.aborted) {
        // Lease lost or shutting down: leave the job to whoever holds it (or to lease expiry).
        log.warn({ ...fields, error: message }, 'job interrupted');
      } else if (job.attempts < job.max_attempts) {
        await retryJob(db, job.id, this.workerId, message, Math.min(60_000, 1000 * 2 ** job.attempts));
        log.warn({ ...fields, error: message }, 'job failed, will retry');
      } else {
        await failJob(db, job.id, this.workerId, message);
        await handler.giveUp?.(job, message);
        log.error({ ...fields, error: message }, 'job failed');
      }
    } finally {
      clearInterval(heartbeat);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
