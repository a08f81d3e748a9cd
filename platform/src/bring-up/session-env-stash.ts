/**
 * Per-session env vars live here, in the memory of the worker process that owns the
 * session's bring-up (it received them sealed from the web service, or the create request
 * itself in the `all` role), until it pushed them to the vault. They never reach the
 * database, a job payload or a log.
 */
import type { SessionEnv } from '../secrets/session-env';

export type { SessionEnv };

export class SessionEnvStash {
  private readonly held = new Map<string, SessionEnv>();

  hold(sessionId: string, env: SessionEnv): void {
    this.held.set(sessionId, { values: { ...env.values }, bindings: { ...env.bindings } });
  }

  get(sessionId: string): SessionEnv | undefined {
    return this.held.get(sessionId);
  }

  /** After the push (or when the session ended): nothing keeps the values alive. */
  discard(sessionId: string): void {
    this.held.delete(sessionId);
  }
}
