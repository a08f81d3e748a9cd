/**
 * Sessions: create (warm claim or a durable bring-up job), message, events,
 * stop/delete, and stopping everything of a deleted agent. Used by the session
 * routes and, through the api engineer's SessionService, by agent delete.
 */
import { TUI_HARNESS_IDS, type MessagePart, type TurnResponse } from '@lap/sandbox-protocol';
import type pg from 'pg';
import type { Dispatcher } from 'undici';
import type { AgentRecord } from '../db/agents';
import { enqueueClaimedJob, enqueueJob, type JobRow } from '../db/jobs';
import { withTransaction } from '../db/pool';
import {
  attachWarmSandbox,
  getSession,
  insertSession,
  liveSessionsOfAgent,
  listSessions,
  markSessionDead,
  recordResponse,
  type SessionListRow,
  type SessionRow,
} from '../db/sessions';
import type { SandboxLauncher } from '../sandbox/launcher';
import { harnessToken } from '../sandbox/tokens';
import type { WarmPool } from '../sandbox/warm-pool-port';
import { ttyUrlFor } from './bring-up-job';
import { HarnessUnreachableError, openEventStream, sendTurn } from './harness-client';
import { sandboxIdOf } from './initial-prompt-job';
import type { JobRunner } from './job-runner';
import type { Logger } from './logger';
import type { EnvVarHosts } from '../validation/env-var-hosts';
import type { SessionEnvStash } from './session-env-stash';

export interface CreateSessionInput {
  title?: string | null;
  initial_prompt?: string | null;
  env_vars?: Record<string, string>;
  env_var_hosts?: EnvVarHosts;
}

/** A session can't take this request in its current state (404 to the caller, per the reference). */
export class SessionNotReadyError extends Error {}

/** The session's harness speaks a terminal, not JSON turns. */
export class TuiHarnessError extends Error {}

export interface SessionManagerDeps {
  db: pg.Pool;
  launcher: SandboxLauncher;
  warmPool: WarmPool;
  runner: JobRunner;
  sessionEnv: SessionEnvStash;
  signingKey: string;
  log: Logger;
}

export class SessionManager {
  constructor(private readonly deps: SessionManagerDeps) {}

  /**
   * Creates the session and returns it at once (`creating`), or `ready` when a warm
   * sandbox was claimed. Per-session env vars never claim a warm sandbox (it got
   * only agent-level secrets at boot); this process runs their bring-up itself.
   */
  async create(agent: AgentRecord, input: CreateSessionInput): Promise<SessionRow> {
    const { db, runner, warmPool, log } = this.deps;
    const sessionEnv = input.env_vars && Object.keys(input.env_vars).length > 0 ? input.env_vars : undefined;
    const result = await withTransaction(db, async (tx) => {
      const session = await insertSession(tx, {
        agentId: agent.id,
        title: input.title ?? null,
        initialPrompt: input.initial_prompt ?? null,
      });
      if (!sessionEnv) {
        const warm = await warmPool.claim(tx, { agentId: agent.id, sessionId: session.id });
        if (warm) {
          const ready = await attachWarmSandbox(tx, session.id, {
            warmSandboxId: warm.id,
            ref: warm.sandboxRef,
            sandboxUrl: warm.sandboxUrl,
            vaultAdminUrl: warm.vaultAdminUrl,
            ttyUrl: ttyUrlFor(agent.harness_id, warm.sandboxUrl),
          });
          if (ready.initial_prompt)
            await enqueueJob(tx, { kind: 'deliver_initial_prompt', sessionId: session.id, maxAttempts: 1 });
          return { session: ready, ownedJob: null as JobRow | null };
        }
      }
      const job = {
        kind: 'session_bring_up' as const,
        sessionId: session.id,
        payload: { session_env: !!sessionEnv },
      };
      const ownedJob = sessionEnv
        ? await enqueueClaimedJob(tx, job, { workerId: runner.workerId, leaseMs: runner.leaseMs })
        : (await enqueueJob(tx, job), null);
      return { session, ownedJob };
    });
    log.info(
      { session_id: result.session.id, agent_id: agent.id, warm: result.session.status === 'ready' },
      'session created',
    );
    if (result.ownedJob) {
      this.deps.sessionEnv.hold(result.session.id, {
        values: sessionEnv!,
        bindings: input.env_var_hosts ?? {},
      });
      void runner.runOwned(result.ownedJob);
    } else runner.poke();
    return result.session;
  }

  get(id: string): Promise<SessionRow | null> {
    return getSession(this.deps.db, id);
  }

  list(page: {
    limit: number;
    offset: number;
    agentId?: string;
  }): Promise<{ rows: SessionListRow[]; total: number }> {
    return listSessions(this.deps.db, page);
  }

  private async readySession(id: string, agent: Pick<AgentRecord, 'harness_id'> | null): Promise<SessionRow> {
    const session = await getSession(this.deps.db, id);
    if (!session) throw new SessionNotReadyError(`session '${id}' not found`);
    if (session.status !== 'ready' || !session.sandbox_url)
      throw new SessionNotReadyError(
        `session '${id}' is not ready (status ${session.status}, phase ${session.phase})`,
      );
    if (agent && (TUI_HARNESS_IDS as readonly string[]).includes(agent.harness_id))
      throw new TuiHarnessError(
        `session '${id}' runs the TUI harness ${agent.harness_id}: attach to its tty_url instead of sending messages`,
      );
    return session;
  }

  /** One synchronous turn. A harness that cannot be reached at all means the sandbox is gone: the session dies. */
  async message(
    id: string,
    agent: Pick<AgentRecord, 'harness_id'> | null,
    parts: MessagePart[],
    signal?: AbortSignal,
  ): Promise<TurnResponse> {
    const session = await this.readySession(id, agent);
    try {
      const reply = await sendTurn(
        session.sandbox_url!,
        harnessToken(this.deps.signingKey, sandboxIdOf(session)),
        parts,
        signal,
      );
      await recordResponse(this.deps.db, id, reply);
      return reply;
    } catch (err) {
      if (err instanceof HarnessUnreachableError)
        await this.end(session, `sandbox unreachable: ${err.message}`);
      throw err;
    }
  }

  /** The harness's SSE stream for a ready session. */
  async openEvents(id: string, signal: AbortSignal, lastEventId?: string): Promise<Dispatcher.ResponseData> {
    const session = await this.readySession(id, null);
    try {
      return await openEventStream(
        session.sandbox_url!,
        harnessToken(this.deps.signingKey, sandboxIdOf(session)),
        signal,
        lastEventId,
      );
    } catch (err) {
      if (err instanceof HarnessUnreachableError)
        await this.end(session, `sandbox unreachable: ${err.message}`);
      throw err;
    }
  }

  /** Marks the session dead and stops its sandbox. Idempotent; null only for a session that never existed. */
  async stop(id: string): Promise<SessionRow | null> {
    const session = await getSession(this.deps.db, id);
    if (!session) return null;
    await this.end(session, 'stopped by the user', false);
    return getSession(this.deps.db, id);
  }

  /** Agent delete: every live session dies and every sandbox of the agent (warm ones too) stops. */
  async stopAllForAgent(agentId: string): Promise<void> {
    const sessions = await liveSessionsOfAgent(this.deps.db, agentId);
    await Promise.all(sessions.map((s) => this.end(s, 'agent deleted')));
    const sandboxes = await this.deps.launcher.listByTags({ 'lap:agent-id': agentId });
    await Promise.all(sandboxes.map((s) => this.deps.launcher.stop(s.ref, 'agent deleted')));
  }

  /** `isFailure`: the reason is also stored as failure_reason (a user stop is not a failure). */
  private async end(session: SessionRow, reason: string, isFailure = true): Promise<void> {
    await markSessionDead(this.deps.db, session.id, isFailure ? reason : null);
    this.deps.sessionEnv.discard(session.id);
    const ref = session.sandbox_ref ?? (await getSession(this.deps.db, session.id))?.sandbox_ref;
    if (ref) await this.deps.launcher.stop(ref, reason);
    this.deps.log.info({ session_id: session.id, reason }, 'session ended');
  }
}
