/**
 * The API's session service: create (a warm claim, or a durable bring-up job), read,
 * send (wait for ready, then a turn in order), stop, and stopping everything of a
 * deleted agent. It runs in whichever process serves the API; the bring-up it starts
 * runs as a job (bring-up/jobs.ts) in a worker. A session with its own env vars is
 * created by the process that will bring it up (session-env-bring-up.ts): this one in
 * the worker and `all` roles, a worker it hands them to in the web role.
 */
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HarnessId, type MessagePart, type TurnResponse } from '@lap/sandbox-protocol';
import type pg from 'pg';
import type { AgentRecord } from '../db/agents';
import { enqueueJob, initialPromptPending } from '../db/jobs';
import { withTransaction } from '../db/pool';
import {
  getSession,
  insertSession,
  liveSessionsOfAgent,
  listSessions,
  type SessionListRow,
  type SessionRow,
  type SessionWithHarness,
} from '../db/sessions';
import { supportsTui, ttyUrlFor } from '../harness/client';
import { markDead, markReady } from '../lifecycle/session-states';
import type { Logger } from '../logger';
import type { SandboxControl } from '../sandbox/launcher';
import type { EnvVarHosts } from '../validation/env-var-hosts';
import type { WarmPool } from '../warm-pool/port';
import type { SessionEnv } from '../secrets/session-env';
import type { NewSession, SessionEnvBringUp } from './session-env-bring-up';
import { Turns, type TurnSettings } from './turns';

export interface CreateSessionInput {
  title?: string | null;
  initial_prompt?: string | null;
  env_vars?: Record<string, string>;
  env_var_hosts?: EnvVarHosts;
}

/** The session never became ready in time (504). */
export class SessionNotReadyError extends Error {}

/** The session failed or died before the request could use it (410, with its reason). */
export class SessionGoneError extends Error {
  constructor(
    readonly status: 'failed' | 'dead',
    message: string,
  ) {
    super(message);
  }
}

/** The session's harness speaks a terminal, not JSON turns (400). */
export class TuiHarnessError extends Error {}

export interface SessionServiceDeps {
  db: pg.Pool;
  launcher: SandboxControl;
  warmPool: WarmPool;
  /** After this process queued a job: wake whoever runs jobs (its own runner; a worker, from the web). */
  wakeJobRunners: () => void;
  /** Creates and brings up sessions with their own env vars (here, or in a worker). */
  sessionEnvBringUp: SessionEnvBringUp;
  signingKey: string;
  log: Logger;
  creatingTimeoutMs: number;
  turns: TurnSettings;
}

/** Slack past the creating timeout: the bring-up or the sweep fails the session by then. */
const READY_WAIT_SLACK_MS = 5000;
/** A queued initial prompt waits at most this long for a runner, beyond its own turn deadline. */
const INITIAL_PROMPT_CLAIM_SLACK_MS = 60_000;

export class SessionService {
  readonly turns: Turns;

  constructor(private readonly deps: SessionServiceDeps) {
    this.turns = new Turns({
      db: deps.db,
      launcher: deps.launcher,
      signingKey: deps.signingKey,
      log: deps.log,
      settings: deps.turns,
      endSession: (session, reason) => this.end(session, reason),
    });
  }

  get signingKey(): string {
    return this.deps.signingKey;
  }

  /**
   * Creates the session and returns it at once (`creating`), or `ready` when a warm
   * sandbox was claimed. Per-session env vars never claim a warm sandbox (it got
   * only agent-level secrets at boot); the process that can bring them up creates it.
   */
  async create(agent: AgentRecord, input: CreateSessionInput): Promise<SessionRow> {
    const { db, warmPool, log } = this.deps;
    if (input.env_vars && Object.keys(input.env_vars).length > 0) {
      return this.createWithEnv(
        {
          id: crypto.randomUUID(),
          agent,
          title: input.title ?? null,
          initialPrompt: input.initial_prompt ?? null,
        },
        { values: input.env_vars, bindings: input.env_var_hosts ?? {} },
      );
    }
    const session = await withTransaction(db, async (tx) => {
      const session = await insertSession(tx, {
        agentId: agent.id,
        title: input.title ?? null,
        initialPrompt: input.initial_prompt ?? null,
      });
      const warm = await warmPool.claim(tx, { agentId: agent.id, sessionId: session.id });
      if (warm) {
        const ready = await markReady(tx, session.id, {
          sandboxUrl: warm.sandboxUrl,
          ttyUrl: ttyUrlFor(supportsTui(agent.harness_id), warm.sandboxUrl),
          harnessSessionId: warm.harnessSessionId,
          warm: { warmSandboxId: warm.id, ref: warm.sandboxRef, vaultAdminUrl: warm.vaultAdminUrl },
        });
        if (ready!.initial_prompt)
          await enqueueJob(tx, { kind: 'deliver_initial_prompt', sessionId: session.id, maxAttempts: 1 });
        return ready!;
      }
      await enqueueJob(tx, {
        kind: 'session_bring_up',
        sessionId: session.id,
        payload: { session_env: false },
      });
      return session;
    });
    log.info(
      { session_id: session.id, agent_id: agent.id, warm: session.status === 'ready' },
      'session created',
    );
    this.deps.wakeJobRunners();
    return session;
  }

  /**
   * A session with its own env vars: created by the process that brings it up (this one, or
   * the worker it hands them to). The worker's hand-off route calls this with the web's id.
   */
  async createWithEnv(session: NewSession, env: SessionEnv): Promise<SessionRow> {
    const created = await this.deps.sessionEnvBringUp.start(session, env);
    this.deps.log.info(
      { session_id: created.id, agent_id: session.agent.id, warm: false, session_env: true },
      'session created',
    );
    return created;
  }

  get(id: string): Promise<SessionWithHarness | null> {
    return getSession(this.deps.db, id);
  }

  list(page: {
    limit: number;
    offset: number;
    agentId?: string;
  }): Promise<{ rows: SessionListRow[]; total: number }> {
    return listSessions(this.deps.db, page);
  }

  /**
   * Waits until the session is ready: at most until its bring-up's own deadline
   * (SESSION_CREATING_TIMEOUT_MS from creation) or `maxWaitMs`. Null when the session
   * does not exist; SessionGoneError when it failed or died (with its reason),
   * SessionNotReadyError when the wait ran out.
   */
  async awaitReady(id: string, signal?: AbortSignal, maxWaitMs?: number): Promise<SessionWithHarness | null> {
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const session = await getSession(this.deps.db, id);
      if (!session) return null;
      if (session.status === 'ready' && session.sandbox_url) return session;
      if (session.status === 'failed' || session.status === 'dead')
        throw new SessionGoneError(
          session.status,
          `session '${id}' is ${session.status}${session.failure_reason ? `: ${session.failure_reason}` : ''}`,
        );
      const bringUpEnds = session.created_at.getTime() + this.deps.creatingTimeoutMs + READY_WAIT_SLACK_MS;
      const until = Math.min(bringUpEnds, maxWaitMs === undefined ? Infinity : started + maxWaitMs);
      if (Date.now() >= until)
        throw new SessionNotReadyError(
          `session '${id}' did not become ready in time (status ${session.status}, phase ${session.phase})`,
        );
      await sleep(Math.min(this.deps.turns.pollMs, Math.max(1, until - Date.now())), undefined, { signal });
    }
  }

  /** A queued or running initial prompt goes first: a message waits for it (bounded). */
  async awaitInitialPrompt(session: SessionRow, signal?: AbortSignal): Promise<void> {
    if (!session.initial_prompt) return;
    const until = Date.now() + this.deps.turns.turnTimeoutMs + INITIAL_PROMPT_CLAIM_SLACK_MS;
    while (Date.now() < until && (await initialPromptPending(this.deps.db, session.id)))
      await sleep(this.deps.turns.pollMs, undefined, { signal });
  }

  /** Whether the platform has a turn of this session still to run (queued here, or its initial prompt). */
  async turnsPending(session: SessionRow): Promise<boolean> {
    if (this.turns.pending(session.id) > 0) return true;
    return !!session.initial_prompt && (await initialPromptPending(this.deps.db, session.id));
  }

  /**
   * One turn: waits for the session to be ready and for the turns before it, then
   * sends. Null when the session does not exist.
   */
  async message(id: string, parts: MessagePart[], signal?: AbortSignal): Promise<TurnResponse | null> {
    const session = await this.awaitReady(id, signal);
    if (!session) return null;
    this.requireApiHarness(session);
    await this.awaitInitialPrompt(session, signal);
    return this.turns.run(session, parts, signal);
  }

  requireApiHarness(session: SessionWithHarness): void {
    if (supportsTui(session.harness_id))
      throw new TuiHarnessError(
        `session '${session.id}' runs the TUI harness ${session.harness_id as HarnessId}: attach to its tty_url instead of sending messages`,
      );
  }

  /** Marks the session dead and stops its sandbox. Idempotent; null only for a session that never existed. */
  async stop(id: string): Promise<SessionWithHarness | null> {
    const session = await getSession(this.deps.db, id);
    if (!session) return null;
    await this.end(session, null);
    return getSession(this.deps.db, id);
  }

  /** Agent delete: every live session dies and every sandbox of the agent (warm ones too) stops. */
  async stopAllForAgent(agentId: string): Promise<void> {
    const sessions = await liveSessionsOfAgent(this.deps.db, agentId);
    await Promise.all(sessions.map((s) => this.end(s, 'agent deleted')));
    const sandboxes = await this.deps.launcher.listByTags({ 'lap:agent-id': agentId });
    await Promise.all(sandboxes.map((s) => this.deps.launcher.stop(s.ref, 'agent deleted')));
  }

  /** -> dead and its sandbox stops. `reason` null: a user's stop, which is no failure. */
  async end(session: SessionRow, reason: string | null): Promise<void> {
    await markDead(this.deps.db, session.id, reason);
    this.deps.sessionEnvBringUp.discard(session.id);
    const ref = session.sandbox_ref ?? (await getSession(this.deps.db, session.id))?.sandbox_ref;
    if (ref) await this.deps.launcher.stop(ref, reason ?? 'stopped by the user');
    this.deps.log.info({ session_id: session.id, reason: reason ?? 'stopped by the user' }, 'session ended');
  }
}
