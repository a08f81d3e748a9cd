/**
 * What a worker answers on its internal listener to the web service (api/routes/worker-calls.ts;
 * the web's side is worker-link/client.ts): it takes sessions with per-session env vars
 * (unseals them, creates the session, owns its bring-up), wakes its job runner, and reads
 * sandbox log lines for diagnose, which the web role may not read itself.
 */
import type pg from 'pg';
import { getAgent } from '../db/agents';
import { getSession } from '../db/sessions';
import type { JobRunner } from '../jobs/job-runner';
import type { Logger } from '../logger';
import type { SandboxLauncher } from '../sandbox/launcher';
import type { SecretStore } from '../secrets/secret-store';
import { unsealSessionEnv, type SessionEnv } from '../secrets/session-env';
import type { SessionService } from '../sessions/session-service';
import { workerCallProblem, type WorkerCall } from '../worker-link/call-token';
import type { SessionHandOff } from '../worker-link/client';

export type TakeSessionResult = 'created' | 'exists' | 'agent_missing' | 'bad_seal' | 'draining';

export interface WorkerCallsDeps {
  db: pg.Pool;
  secretStore: SecretStore;
  signingKey: string;
  sessions: SessionService;
  runner: JobRunner;
  launcher: SandboxLauncher;
  log: Logger;
}

export class WorkerCalls {
  private draining = false;
  private lastPokeAt = 0;

  constructor(private readonly deps: WorkerCallsDeps) {}

  /** Why the call's token is refused, or null (call-token.ts). */
  refusal(bearer: string | undefined, call: WorkerCall): string | null {
    return workerCallProblem(this.deps.signingKey, bearer, call);
  }

  /** Shutting down: take no new session (the web tries another worker). */
  stopTaking(): void {
    this.draining = true;
  }

  async takeSession(handOff: SessionHandOff): Promise<TakeSessionResult> {
    if (this.draining) return 'draining';
    const { db, secretStore, sessions, log } = this.deps;
    const agent = await getAgent(db, handOff.agent_id);
    if (!agent) return 'agent_missing';
    let env: SessionEnv;
    try {
      env = await unsealSessionEnv(secretStore, handOff.session_id, handOff.sealed_env);
    } catch (error) {
      log.warn(
        { session_id: handOff.session_id, error: (error as Error).message },
        'session hand-off refused',
      );
      return 'bad_seal';
    }
    try {
      await sessions.createWithEnv(
        { id: handOff.session_id, agent, title: handOff.title, initialPrompt: handOff.initial_prompt },
        env,
      );
    } catch (error) {
      // The same hand-off again (the web retried after a lost answer): the first one owns it.
      if ((error as { code?: string }).code === '23505' && (await getSession(db, handOff.session_id)))
        return 'exists';
      throw error;
    }
    return 'created';
  }

  /**
   * A job was queued elsewhere: look now. Anyone who reaches the internal listener may poke
   * (the warm-pool function holds no key), so pokes are coalesced to one look per
   * JOB_POLL_MS: the most they can do is keep the runner at its busy pace.
   */
  poke(): void {
    const now = Date.now();
    if (now - this.lastPokeAt < this.deps.runner.polling.busyMs) return;
    this.lastPokeAt = now;
    this.deps.runner.poke();
  }

  /** The session's sandbox log lines, newest last; null for an unknown session. */
  async recentLogs(sessionId: string, limit: number): Promise<string[] | null> {
    const session = await getSession(this.deps.db, sessionId);
    if (!session) return null;
    if (!session.sandbox_ref) return [];
    return this.deps.launcher.recentLogs(session.sandbox_ref, limit);
  }
}
