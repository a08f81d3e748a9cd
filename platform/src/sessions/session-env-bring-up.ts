/**
 * Who brings up a session that carries its own env vars. Those values exist only in the
 * memory of the process that owns the bring-up, so creating such a session and starting
 * its bring-up are one step, done by a process that can launch sandboxes:
 *   - `OwnedSessionEnvBringUp` (worker and `all` roles): inserts the session with its
 *     bring-up job already claimed by this process's runner, holds the values, runs the job;
 *   - `WorkerHandOff` (web role, which cannot launch): seals the values for this session id
 *     with the SecretStore and hands them to a worker over its internal listener, which does
 *     the above. Nothing is stored on the way; when no worker takes it, nothing exists.
 */
import type pg from 'pg';
import type { SessionEnvStash } from '../bring-up/session-env-stash';
import type { AgentRecord } from '../db/agents';
import { enqueueClaimedJob } from '../db/jobs';
import { withTransaction } from '../db/pool';
import { getSession, insertSession, type SessionRow } from '../db/sessions';
import type { JobRunner } from '../jobs/job-runner';
import type { SecretStore } from '../secrets/secret-store';
import { sealSessionEnv, type SessionEnv } from '../secrets/session-env';
import { WorkerUnavailableError, type WorkerLink } from '../worker-link/client';

export interface NewSession {
  /** Chosen before the row exists: the sealed values are bound to it. */
  id: string;
  agent: AgentRecord;
  title: string | null;
  initialPrompt: string | null;
}

export interface SessionEnvBringUp {
  /** Creates the session and starts its bring-up with `env`; returns the created row. */
  start(session: NewSession, env: SessionEnv): Promise<SessionRow>;
  /** The session ended: drop its values if this process still holds them. */
  discard(sessionId: string): void;
}

export class OwnedSessionEnvBringUp implements SessionEnvBringUp {
  constructor(private readonly deps: { db: pg.Pool; runner: JobRunner; stash: SessionEnvStash }) {}

  async start(input: NewSession, env: SessionEnv): Promise<SessionRow> {
    const { db, runner, stash } = this.deps;
    const { session, job } = await withTransaction(db, async (tx) => {
      const session = await insertSession(tx, {
        id: input.id,
        agentId: input.agent.id,
        title: input.title,
        initialPrompt: input.initialPrompt,
      });
      const job = await enqueueClaimedJob(
        tx,
        { kind: 'session_bring_up', sessionId: session.id, payload: { session_env: true } },
        { workerId: runner.workerId, leaseMs: runner.leaseMs },
      );
      return { session, job };
    });
    stash.hold(session.id, env);
    void runner.runOwned(job);
    return session;
  }

  discard(sessionId: string): void {
    this.deps.stash.discard(sessionId);
  }
}

export class WorkerHandOff implements SessionEnvBringUp {
  constructor(private readonly deps: { db: pg.Pool; secretStore: SecretStore; worker: WorkerLink }) {}

  async start(input: NewSession, env: SessionEnv): Promise<SessionRow> {
    const { db, secretStore, worker } = this.deps;
    const sealed = await sealSessionEnv(secretStore, input.id, env);
    try {
      await worker.handOffSession({
        session_id: input.id,
        agent_id: input.agent.id,
        title: input.title,
        initial_prompt: input.initialPrompt,
        sealed_env: sealed,
      });
    } catch (error) {
      // A worker that created the session but whose answer was lost (or a retry that met it): it owns it.
      const taken = await getSession(db, input.id);
      if (taken) return taken;
      throw error;
    }
    const created = await getSession(db, input.id);
    if (!created)
      throw new WorkerUnavailableError('the worker answered, but the session it created is missing');
    return created;
  }

  discard(): void {
    // The values live in the worker that took the session; its bring-up drops them when it sees the end.
  }
}
