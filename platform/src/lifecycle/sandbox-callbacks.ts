/**
 * What sandboxes call back into (the internal routes, api/routes/internal.ts): the boot
 * spec and phase reports. A sandbox id is a session id (cold start) or a warm sandbox
 * id. Fetching the boot spec is how a session reaches `harness_ready` (the harness
 * process runs and talks to the platform); the harness reports the phases after it.
 */
import type { PhaseReport, SandboxBootSpec } from '@lap/sandbox-protocol';
import type pg from 'pg';
import { getAgent } from '../db/agents';
import { isUuid } from '../db/pool';
import { getSession } from '../db/sessions';
import type { Logger } from '../logger';
import { buildBootSpec, type BootSpecSettings } from '../sandbox/boot-spec';
import type { SandboxLauncher } from '../sandbox/launcher';
import { isValidCallbackToken } from '../sandbox/tokens';
import type { WarmPool } from '../warm-pool/port';
import { advancePhase, failSession } from './session-states';

type Resolved = { kind: 'session'; agentId: string } | { kind: 'warm'; agentId: string } | null;

export class SandboxCallbacks {
  constructor(
    private readonly deps: {
      db: pg.Pool;
      launcher: SandboxLauncher;
      warmPool: WarmPool;
      signingKey: string;
      log: Logger;
      bootSpec: BootSpecSettings;
    },
  ) {}

  /** Constant-time check of `Authorization: Bearer <CALLBACK_TOKEN>` for this sandbox id. */
  isAuthorized(sandboxId: string, bearer: string | undefined): boolean {
    if (!bearer || !isUuid(sandboxId)) return false;
    return isValidCallbackToken(this.deps.signingKey, sandboxId, bearer);
  }

  private async resolve(sandboxId: string): Promise<Resolved> {
    const session = await getSession(this.deps.db, sandboxId);
    if (session) return { kind: 'session', agentId: session.agent_id };
    const warm = await this.deps.warmPool.find(sandboxId);
    return warm ? { kind: 'warm', agentId: warm.agentId } : null;
  }

  /** Null when the sandbox id names neither a session nor a warm sandbox (or its agent is gone). */
  async bootSpec(sandboxId: string): Promise<SandboxBootSpec | null> {
    const resolved = await this.resolve(sandboxId);
    if (!resolved) return null;
    const agent = await getAgent(this.deps.db, resolved.agentId);
    if (!agent) return null;
    const spec = await buildBootSpec(this.deps.db, sandboxId, agent, this.deps.bootSpec);
    if (resolved.kind === 'session') await advancePhase(this.deps.db, sandboxId, 'harness_ready');
    return spec;
  }

  /** Applies a harness phase report; false when the sandbox id is unknown. */
  async reportPhase(sandboxId: string, report: PhaseReport): Promise<boolean> {
    const resolved = await this.resolve(sandboxId);
    if (!resolved) return false;
    const { log } = this.deps;
    if (resolved.kind === 'warm') {
      if (report.phase === 'harness_listening') await this.deps.warmPool.markWarm(sandboxId);
      if (report.phase === 'failed')
        await this.deps.warmPool.markDead(
          sandboxId,
          report.failure_reason ?? report.detail ?? 'harness failed',
        );
      log.info({ warm_sandbox_id: sandboxId, phase: report.phase }, 'warm sandbox phase');
      return true;
    }
    if (report.phase === 'failed') {
      const reason = report.failure_reason ?? report.detail ?? 'the harness reported a failure';
      const failed = await failSession(this.deps.db, sandboxId, reason);
      if (failed?.sandbox_ref) await this.deps.launcher.stop(failed.sandbox_ref, `harness failed: ${reason}`);
    } else {
      await advancePhase(this.deps.db, sandboxId, report.phase, report.detail ?? null);
    }
    log.info({ session_id: sandboxId, phase: report.phase }, 'harness phase');
    return true;
  }
}
