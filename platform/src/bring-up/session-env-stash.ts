/**
 * Per-session env vars live here, in the memory of the process that received the
 * create request, from the request until the worker pushed them to the vault.
 * They never reach the database, a job payload or a log.
 */
export class SessionEnvStash {
  private readonly held = new Map<string, Record<string, string>>();

  hold(sessionId: string, envVars: Record<string, string>): void {
    this.held.set(sessionId, { ...envVars });
  }

  get(sessionId: string): Record<string, string> | undefined {
    return this.held.get(sessionId);
  }

  /** After the push (or when the session ended): nothing keeps the values alive. */
  discard(sessionId: string): void {
    this.held.delete(sessionId);
  }
}
