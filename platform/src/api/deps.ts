import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { SecretStore } from '../secrets/secret-store';

/**
 * What the API needs from the runtime's session machinery. The runtime implements
 * it (platform/src/worker/...) and may add the methods its own routes
 * (routes/sessions.ts) need, here or by declaration merging:
 *   declare module '../api/deps' { interface SessionService { create(...): ... } }
 */
export interface SessionService {
  /**
   * Stops every live session and warm sandbox of the agent and marks them dead.
   * Called by DELETE /agents/{id} before the agent row goes; must be idempotent.
   */
  stopAllForAgent(agentId: string): Promise<void>;
}

/**
 * Anything else the runtime's routes (sessions, internal) need: token signing key,
 * launcher, job queue... Declared by the runtime through declaration merging, so
 * this file never has to know their types:
 *   declare module '../api/deps' { interface RuntimeServices { launcher: SandboxLauncher } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RuntimeServices {}

/** Everything the HTTP API depends on; built once by main.ts (or a test) and passed to buildApp. */
export interface ApiDeps {
  db: pg.Pool;
  /** The bearer token of every public route. */
  masterKey: string;
  /** Encrypts agent env vars and per-agent gateway keys before they reach the database. */
  secretStore: SecretStore;
  /** Structured JSON logger (pino). Never given secret values. */
  log: FastifyBaseLogger;
  sessions: SessionService;
  runtime?: Partial<RuntimeServices>;
}

/** Options every route plugin receives. */
export interface RouteOptions {
  deps: ApiDeps;
}
