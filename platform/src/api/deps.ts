import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { Diagnosis } from '../diagnose/diagnose';
import type { SandboxCallbacks } from '../lifecycle/sandbox-callbacks';
import type { SecretStore } from '../secrets/secret-store';
import type { SessionService } from '../sessions/session-service';
import type { WorkerCalls } from '../worker/worker-calls';

/**
 * Everything the HTTP API depends on; built once by the runtime (worker/runtime.ts:
 * `runtime.api`) or a test, and passed to buildApp. Every member is required: a
 * process that serves the API serves all of it, no route is left out quietly.
 */
export interface ApiDeps {
  db: pg.Pool;
  /** The bearer token of every public route. */
  masterKey: string;
  /**
   * BASE_URL, the API's public address: the session view's `tty_url` is built on it. Null:
   * `tty_url` is a path, which clients resolve against the address they called.
   */
  publicUrl: string | null;
  /** Encrypts agent env vars and per-agent gateway keys before they reach the database. */
  secretStore: SecretStore;
  /** Structured JSON logger (pino). Never given secret values. */
  log: FastifyBaseLogger;
  /** Sessions: create, read, send, stop (and stopping all of a deleted agent's). */
  sessions: SessionService;
  /** GET /sessions/{id}/diagnose; null for an unknown session. */
  diagnose: (sessionId: string) => Promise<Diagnosis | null>;
}

/** Options every route plugin receives. */
export interface RouteOptions {
  deps: ApiDeps;
}

/** What the internal listener (buildInternalApp) serves; built by the worker's runtime (`runtime.internal`). */
export interface InternalApiDeps {
  log: FastifyBaseLogger;
  /** The sandbox callback routes (/internal/sandboxes/*): boot spec and phase reports. */
  sandboxCallbacks: SandboxCallbacks;
  /** The web -> worker routes (/internal/worker/*): session hand-off, poke, sandbox logs. */
  workerCalls: WorkerCalls;
}

export interface InternalRouteOptions {
  deps: InternalApiDeps;
}
