/**
 * The worker's warm-pool jobs: `warm_bring_up` boots one planned warm sandbox with
 * the runtime's bring-up steps (launch, await running, push the agent-level secrets
 * only, await the harness) and `warm_pool_top_up` refills the pool after a claim.
 * The harness's `harness_listening` callback marks the row `warm` (internal route ->
 * WarmPool.markWarm); a healthy probe does the same when the callback cannot arrive.
 * Any failure ends the row and stops its task: a warm sandbox is never retried, the
 * next top-up plans a fresh one.
 */
import type pg from 'pg';
import { getAgent } from '../db/agents';
import type { JobRow } from '../db/jobs';
import {
  getWarmSandbox,
  markWarmSandboxDead,
  markWarmSandboxWarm,
  recordWarmSandboxRef,
  recordWarmSandboxUrls,
  WARM_BRING_UP_JOB,
  WARM_POOL_TOP_UP_JOB,
} from '../db/warm-pool';
import {
  awaitHarnessReady,
  awaitSandboxRunning,
  BringUpError,
  launchSandbox,
  pushVaultSecrets,
  type ReportedHarnessPhase,
} from '../sandbox/bring-up';
import type { SandboxLauncher } from '../sandbox/launcher';
import type { SecretStore } from '../secrets/secret-store';
import type { JobContext, JobHandler } from '../worker/job-runner';
import type { Logger } from '../worker/logger';
import { buildVaultPush } from '../worker/vault-push';
import { topUpWarmPool, type WarmPoolSettings } from './warm-pool';

export interface WarmBringUpDeps {
  db: pg.Pool;
  launcher: SandboxLauncher;
  secretStore: SecretStore;
  log: Logger;
  warmPool: WarmPoolSettings;
  settings: {
    signingKey: string;
    callbackUrl: string;
    vaultCaCertPem: string;
    egressTokenKey?: string;
    /** A warm bring-up gets as long as a cold one (SESSION_CREATING_TIMEOUT_MS), and never past its TTL. */
    creatingTimeoutMs: number;
    pollMs?: number;
  };
}

/** The row left `provisioning` (recycled, failed by a callback) while it came up. */
class WarmSandboxEnded extends Error {}

export function warmPoolJobHandlers(
  deps: WarmBringUpDeps,
): Record<typeof WARM_BRING_UP_JOB | typeof WARM_POOL_TOP_UP_JOB, JobHandler> {
  return {
    [WARM_BRING_UP_JOB]: {
      run: (job, ctx) => bringUpWarmSandbox(deps, String(job.payload.warm_sandbox_id ?? ''), ctx),
      giveUp: async (job: JobRow, reason: string) => {
        await endWarmSandbox(
          deps,
          String(job.payload.warm_sandbox_id ?? ''),
          `warm bring-up gave up: ${reason}`,
        );
      },
    },
    [WARM_POOL_TOP_UP_JOB]: {
      run: async () => {
        await topUpWarmPool({ db: deps.db, settings: deps.warmPool, log: deps.log });
      },
    },
  };
}

async function endWarmSandbox(deps: WarmBringUpDeps, id: string, reason: string): Promise<void> {
  const row = await markWarmSandboxDead(deps.db, id, reason);
  const ref = row?.sandbox_ref ?? (await getWarmSandbox(deps.db, id))?.sandbox_ref;
  if (ref) await deps.launcher.stop(ref, reason).catch(() => undefined);
  if (row) deps.log.warn({ warm_sandbox_id: id, failure_reason: reason }, 'warm sandbox failed');
}

export async function bringUpWarmSandbox(
  deps: WarmBringUpDeps,
  id: string,
  ctx: Pick<JobContext, 'signal'>,
): Promise<void> {
  const { db, launcher, settings } = deps;
  const row = await getWarmSandbox(db, id);
  if (!row || row.status !== 'provisioning') return;
  const deadline = Math.min(row.expires_at.getTime(), row.created_at.getTime() + settings.creatingTimeoutMs);
  const wait = { deadline, signal: ctx.signal, pollMs: settings.pollMs };
  try {
    // A resumed job cannot finish: the vault's one-time admin token died with the old runner.
    if (row.sandbox_ref)
      throw new BringUpError('the worker running this warm bring-up stopped; a fresh one is planned');
    const agent = await getAgent(db, row.agent_id);
    if (!agent) throw new BringUpError('the agent was deleted');
    const launched = await launchSandbox(launcher, {
      sandboxId: id,
      kind: 'warm',
      agent,
      signingKey: settings.signingKey,
      callbackUrl: settings.callbackUrl,
    });
    if (!(await recordWarmSandboxRef(db, id, launched.ref))) {
      await launcher.stop(launched.ref, 'warm sandbox ended while launching');
      throw new WarmSandboxEnded();
    }
    const running = await awaitSandboxRunning(launcher, launched.ref, wait);
    if (
      !(await recordWarmSandboxUrls(db, id, {
        sandboxUrl: running.harnessUrl,
        vaultAdminUrl: running.vaultAdminUrl,
      }))
    ) {
      throw new WarmSandboxEnded();
    }
    await pushVaultSecrets({
      vaultAdminUrl: running.vaultAdminUrl,
      adminToken: launched.vaultAdminToken,
      caCertPem: settings.vaultCaCertPem,
      // Agent-level values only: a warm sandbox never serves a session with its own env vars.
      push: await buildVaultPush(deps.secretStore, agent, undefined, {
        tokenKey: settings.egressTokenKey,
        sandboxId: id,
        vaultAdminUrl: running.vaultAdminUrl,
      }),
      wait,
    });
    await awaitHarnessReady({
      harnessUrl: running.harnessUrl,
      wait,
      reportedPhase: async (): Promise<ReportedHarnessPhase> => {
        const current = await getWarmSandbox(db, id);
        if (!current || current.status === 'dead') {
          return { state: 'failed', reason: current?.failure_reason ?? 'warm sandbox removed' };
        }
        return current.status === 'provisioning' ? null : { state: 'listening' };
      },
    });
    await markWarmSandboxWarm(db, id);
    deps.log.info(
      { warm_sandbox_id: id, agent_id: row.agent_id, bring_up_ms: Date.now() - row.created_at.getTime() },
      'warm sandbox ready',
    );
  } catch (err) {
    if (err instanceof WarmSandboxEnded) {
      const current = await getWarmSandbox(db, id);
      if (current?.sandbox_ref)
        await launcher.stop(current.sandbox_ref, `warm sandbox ${current.status}`).catch(() => undefined);
      return;
    }
    await endWarmSandbox(deps, id, (err as Error).message);
  }
}
