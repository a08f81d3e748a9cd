/**
 * Per-session env vars live here, in the memory of the process that received the
 * create request, from the request until the worker pushed them to the vault.
 * They never reach the database, a job payload or a log.
 */
import type { EnvVarHosts } from '../validation/env-var-hosts';

/** A session's own env vars and their bindings (`env_var_hosts` of the create request). */
export interface SessionEnv {
  values: Record<string, string>;
  bindings: EnvVarHosts;
}

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
