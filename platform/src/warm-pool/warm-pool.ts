/**
 * The warm pool: top-up (plan + insert + queue bring-up jobs), recycling (TTL,
 * stale settings, shrunken budget) and the `WarmPool` port the session service
 * claims through.
 *
 * Who does what: the scheduled pass (the `warm-pool` Lambda on AWS, a timer in local
 * mode) recycles, stopping tasks directly, and plans the top-up: it only inserts
 * `provisioning` rows and `warm_bring_up` jobs. The worker runs those jobs with the
 * same bring-up steps as a cold start (it alone holds the KMS decrypt permission,
 * the signing key and the vault CA). A claim (hit or miss) queues one `warm_pool_top_up`
 * job in the claiming transaction, so the worker refills right after the commit.
 */
import type pg from 'pg';
import {
  claimWarmSandbox,
  countLiveWarmSandboxes,
  eligibleAgents,
  getWarmSandbox,
  insertWarmSandboxes,
  lockWarmPoolPlanning,
  markWarmSandboxDead,
  markWarmSandboxWarm,
  recycleWarmSandboxes,
  requestWarmPoolTopUp,
  warmCountsForAgent,
  type WarmSandboxRow,
} from '../db/warm-pool';
import { isUuid, withTransaction, type Queryable } from '../db/pool';
import type { SandboxControl } from '../sandbox/launcher';
import type { ClaimedWarmSandbox, WarmPool, WarmSandboxRef } from '../warm-pool/port';
import type { Logger } from '../logger';
import { planTopUp } from './plan';

/** Same shape as the runtime's `PlatformConfig.warmPool`. */
export interface WarmPoolSettings {
  /** WARM_POOL_SIZE: global budget; 0 turns the pool off. */
  size: number;
  recentAgentHours: number;
  maxProvisioning: number;
  ttlMinutes: number;
}

/** A sandbox about to expire is not handed out: the recycler may stop it under the session. */
export const MIN_REMAINING_FOR_CLAIM_MS = 60_000;

export interface WarmPoolDeps {
  db: pg.Pool;
  launcher: SandboxControl;
  settings: WarmPoolSettings;
  log: Logger;
}

/** Plans and inserts this pass's warm sandboxes (provisioning rows + bring-up jobs). */
export async function topUpWarmPool(deps: Omit<WarmPoolDeps, 'launcher'>): Promise<WarmSandboxRow[]> {
  const { settings } = deps;
  if (settings.size <= 0) return [];
  const started = await withTransaction(deps.db, async (tx) => {
    await lockWarmPoolPlanning(tx);
    const [agents, liveTotal] = await Promise.all([
      eligibleAgents(tx, settings.recentAgentHours),
      countLiveWarmSandboxes(tx),
    ]);
    const slots = planTopUp({
      size: settings.size,
      maxProvisioning: settings.maxProvisioning,
      liveTotal,
      agents: agents.map((a) => ({
        agentId: a.agent_id,
        fingerprint: a.fingerprint,
        recentSessions: a.recent_sessions,
        lastSessionAt: a.last_session_at,
        live: a.live,
      })),
    });
    return insertWarmSandboxes(tx, slots, settings.ttlMinutes);
  });
  for (const row of started) {
    deps.log.info(
      { warm_sandbox_id: row.id, agent_id: row.agent_id, expires_at: row.expires_at },
      'warm sandbox planned',
    );
  }
  return started;
}

/** Ends expired, stale and surplus warm sandboxes and stops their tasks. */
export async function recycleWarmPool(deps: WarmPoolDeps): Promise<WarmSandboxRow[]> {
  const ended = await recycleWarmSandboxes(deps.db, Math.max(0, deps.settings.size));
  await stopAll(deps, ended);
  return ended;
}

export interface WarmPoolPassResult {
  recycled: number;
  planned: number;
}

/** One scheduled pass: recycle first (frees budget), then top up. */
export async function runWarmPoolPass(deps: WarmPoolDeps): Promise<WarmPoolPassResult> {
  const recycled = await recycleWarmPool(deps);
  const planned = await topUpWarmPool(deps);
  return { recycled: recycled.length, planned: planned.length };
}

async function stopAll(deps: Pick<WarmPoolDeps, 'launcher' | 'log'>, rows: WarmSandboxRow[]): Promise<void> {
  for (const row of rows) {
    deps.log.info(
      { warm_sandbox_id: row.id, agent_id: row.agent_id, reason: row.failure_reason },
      'warm sandbox recycled',
    );
    if (!row.sandbox_ref) continue;
    try {
      await deps.launcher.stop(row.sandbox_ref, `warm sandbox ${row.failure_reason ?? 'ended'}`);
    } catch (err) {
      // The row is dead already: the idle reaper's orphan sweep stops the task later.
      deps.log.warn(
        { warm_sandbox_id: row.id, err: { message: (err as Error).message } },
        'warm sandbox stop failed',
      );
    }
  }
}

/** The `WarmPool` port (warm-pool/port.ts) on PostgreSQL. */
export class DatabaseWarmPool implements WarmPool {
  constructor(private readonly deps: WarmPoolDeps) {}

  async claim(
    db: Queryable,
    input: { agentId: string; sessionId: string },
  ): Promise<ClaimedWarmSandbox | null> {
    if (this.deps.settings.size <= 0) return null;
    const row = await claimWarmSandbox(db, { ...input, minRemainingMs: MIN_REMAINING_FOR_CLAIM_MS });
    // In the claiming transaction: the refill is queued exactly when the claim commits. A miss
    // queues one too: it shows demand the pool did not cover (the agent may just have become eligible).
    await requestWarmPoolTopUp(db);
    if (!row) return null;
    return {
      id: row.id,
      sandboxRef: row.sandbox_ref!,
      sandboxUrl: row.sandbox_url!,
      vaultAdminUrl: row.vault_admin_url,
      harnessSessionId: row.harness_session_id,
    };
  }

  async find(id: string): Promise<WarmSandboxRef | null> {
    if (!isUuid(id)) return null;
    const row = await getWarmSandbox(this.deps.db, id);
    return row ? { id: row.id, agentId: row.agent_id, status: row.status, sessionId: row.session_id } : null;
  }

  async markWarm(id: string): Promise<void> {
    if (await markWarmSandboxWarm(this.deps.db, id))
      this.deps.log.info({ warm_sandbox_id: id }, 'warm sandbox ready');
  }

  async markDead(id: string, reason: string): Promise<void> {
    const row = await markWarmSandboxDead(this.deps.db, id, reason);
    if (row) await stopAll(this.deps, [row]);
  }

  async countsForAgent(agentId: string) {
    return { enabled: this.deps.settings.size > 0, counts: await warmCountsForAgent(this.deps.db, agentId) };
  }
}
