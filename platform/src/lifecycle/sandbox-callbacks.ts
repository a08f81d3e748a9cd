/**
 * What sandboxes call back into (the internal routes, api/routes/internal.ts): the boot
 * spec and phase reports. A sandbox id is a session id (cold start) or a warm sandbox
 * id. Fetching the boot spec is how a session reaches `harness_ready` (the harness
 * process runs and talks to the platform); the harness reports the phases after it.
 *
 * A CALLBACK_TOKEN is good only for its own sandbox id and only while that sandbox serves
 * something live: a session `creating` or `ready`; a warm sandbox `provisioning` or `warm`,
 * or `claimed` by a session that is. Once that ends, a token kept by whatever ran in the
 * sandbox fetches nothing (the agent's current prompt and files) and changes nothing.
 */
import type { PhaseReport, SandboxBootSpec } from '@lap/sandbox-protocol';
import type pg from 'pg';
import { getAgent } from '../db/agents';
import { isUuid } from '../db/pool';
import { getSession } from '../db/sessions';
import type { Logger } from '../logger';
import { buildBootSpec, type BootSpecSettings } from '../sandbox/boot-spec';
import type { SandboxControl } from '../sandbox/launcher';
import { isValidCallbackToken } from '../sandbox/tokens';
import type { WarmPool } from '../warm-pool/port';
import { advancePhase, failSession } from './session-states';

/** A sandbox whose callback was authorized: what it serves. */
export interface LiveSandbox {
  id: string;
  kind: 'session' | 'warm';
  agentId: string;
}

export type CallbackAuthorization =
  | { ok: true; sandbox: LiveSandbox }
  | { ok: false; reason: 'bad_token' | 'unknown' | 'ended'; message: string };

const LIVE_SESSION = new Set(['creating', 'ready']);

export class SandboxCallbacks {
  constructor(
    private readonly deps: {
      db: pg.Pool;
      launcher: SandboxControl;
      warmPool: WarmPool;
      signingKey: string;
      log: Logger;
      bootSpec: BootSpecSettings;
    },
  ) {}

  /**
   * `Authorization: Bearer <CALLBACK_TOKEN>` for this sandbox id (constant-time), and the
   * sandbox still serving something live. Unknown ids are told apart (404) from ended ones.
   */
  async authorize(sandboxId: string, bearer: string | undefined): Promise<CallbackAuthorization> {
    if (!bearer || !isUuid(sandboxId) || !isValidCallbackToken(this.deps.signingKey, sandboxId, bearer))
      return { ok: false, reason: 'bad_token', message: 'invalid or missing callback token' };
    const session = await getSession(this.deps.db, sandboxId);
    if (session) {
      if (!LIVE_SESSION.has(session.status))
        return this.ended(`the session of sandbox ${sandboxId} is ${session.status}`);
      return { ok: true, sandbox: { id: sandboxId, kind: 'session', agentId: session.agent_id } };
    }
    const warm = await this.deps.warmPool.find(sandboxId);
    if (!warm) return { ok: false, reason: 'unknown', message: `sandbox '${sandboxId}' not found` };
    if (warm.status === 'dead') return this.ended(`warm sandbox ${sandboxId} is dead`);
    if (warm.status === 'claimed') {
      const claimer = warm.sessionId ? await getSession(this.deps.db, warm.sessionId) : null;
      if (!claimer || !LIVE_SESSION.has(claimer.status))
        return this.ended(`the session that claimed sandbox ${sandboxId} is ${claimer?.status ?? 'gone'}`);
    }
    return { ok: true, sandbox: { id: sandboxId, kind: 'warm', agentId: warm.agentId } };
  }

  private ended(why: string): CallbackAuthorization {
    return { ok: false, reason: 'ended', message: `callback token no longer valid: ${why}` };
  }

  /** Null when the sandbox's agent is gone. */
  async bootSpec(sandbox: LiveSandbox): Promise<SandboxBootSpec | null> {
    const agent = await getAgent(this.deps.db, sandbox.agentId);
    if (!agent) return null;
    const spec = await buildBootSpec(this.deps.db, sandbox.id, agent, this.deps.bootSpec);
    if (sandbox.kind === 'session') await advancePhase(this.deps.db, sandbox.id, 'harness_ready');
    return spec;
  }

  /** Applies a harness phase report. */
  async reportPhase(sandbox: LiveSandbox, report: PhaseReport): Promise<void> {
    const { log } = this.deps;
    const sandboxId = sandbox.id;
    if (sandbox.kind === 'warm') {
      if (report.phase === 'harness_listening') await this.deps.warmPool.markWarm(sandboxId);
      if (report.phase === 'failed')
        await this.deps.warmPool.markDead(
          sandboxId,
          report.failure_reason ?? report.detail ?? 'harness failed',
        );
      log.info({ warm_sandbox_id: sandboxId, phase: report.phase }, 'warm sandbox phase');
      return;
    }
    if (report.phase === 'failed') {
      const reason = report.failure_reason ?? report.detail ?? 'the harness reported a failure';
      const failed = await failSession(this.deps.db, sandboxId, reason);
      if (failed?.sandbox_ref) await this.deps.launcher.stop(failed.sandbox_ref, `harness failed: ${reason}`);
    } else {
      await advancePhase(this.deps.db, sandboxId, report.phase, report.detail ?? null);
    }
    log.info({ session_id: sandboxId, phase: report.phase }, 'harness phase');
  }
}
