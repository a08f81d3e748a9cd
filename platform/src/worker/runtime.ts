/**
 * Wires a platform process together: the job runner with every handler (bring-ups,
 * warm pool, initial prompts), the session service the API uses, the sandbox
 * callbacks, diagnose, and the creating-timeout sweep. The service entry (main.ts)
 * and local mode both build one; `api` is what buildApp takes.
 */
import type pg from 'pg';
import type { ApiDeps } from '../api/deps';
import { sessionBringUpHandler, warmPoolJobHandlers } from '../bring-up/jobs';
import { SessionEnvStash } from '../bring-up/session-env-stash';
import type { PlatformConfig } from '../config';
import { diagnoseSession } from '../diagnose/diagnose';
import { JobRunner, type JobRunnerPolling } from '../jobs/job-runner';
import { SandboxCallbacks } from '../lifecycle/sandbox-callbacks';
import { failTimedOutCreating } from '../lifecycle/session-states';
import type { Logger } from '../logger';
import type { BootSpecSettings } from '../sandbox/boot-spec';
import type { SandboxLauncher } from '../sandbox/launcher';
import type { SecretStore } from '../secrets/secret-store';
import { SessionService } from '../sessions/session-service';
import type { TurnSettings } from '../sessions/turns';
import { noWarmPool, type WarmPool } from '../warm-pool/port';
import { DatabaseWarmPool, type WarmPoolSettings } from '../warm-pool/warm-pool';
import { initialPromptHandler } from './initial-prompt-job';
import { buildVaultPush } from '../bring-up/vault-push';

export interface SessionRuntimeOptions {
  db: pg.Pool;
  launcher: SandboxLauncher;
  secretStore: SecretStore;
  log: Logger;
  /** The warm pool and its settings; none: every session is a cold start. */
  warmPool?: { pool: WarmPool; settings: WarmPoolSettings };
  signingKey: string;
  callbackUrl: string;
  /** BASE_URL (ApiDeps.publicUrl); none: `tty_url` is a path on the host clients called. */
  publicUrl?: string;
  /** PEM of the deployment CA (vault admin TLS). */
  vaultCaCertPem: string;
  /** EGRESS_TOKEN_KEY, when sandboxes reach the internet only through the egress gateway. */
  egressTokenKey?: string;
  creatingTimeoutMs: number;
  turns: TurnSettings;
  bootSpec: BootSpecSettings;
  leaseMs?: number;
  polling?: Partial<JobRunnerPolling>;
  /** How often the creating-timeout sweep looks (it skips while this process runs no bring-up). */
  sweepMs?: number;
  /** How often bring-up steps poll the launcher and the harness. */
  bringUpPollMs?: number;
}

export interface SessionRuntime {
  runner: JobRunner;
  sessions: SessionService;
  /** What buildApp needs besides db, masterKey, secretStore and log. */
  api: Pick<ApiDeps, 'sessions' | 'sandboxCallbacks' | 'diagnose' | 'publicUrl'>;
  /** Claims queued jobs and sweeps timed-out sessions (the worker role). */
  startWorker(): void;
  /** Stops claiming and drains running jobs. */
  stop(drainMs?: number): Promise<void>;
  /** One creating-timeout sweep; returns the ids it failed. */
  sweepCreatingTimeouts(): Promise<string[]>;
}

export function createSessionRuntime(options: SessionRuntimeOptions): SessionRuntime {
  const { db, launcher, log } = options;
  const warmPool = options.warmPool?.pool ?? noWarmPool;
  const sessionEnv = new SessionEnvStash();
  const bringUpDeps = {
    db,
    launcher,
    log,
    settings: {
      signingKey: options.signingKey,
      callbackUrl: options.callbackUrl,
      vaultCaCertPem: options.vaultCaCertPem,
      egressTokenKey: options.egressTokenKey,
      creatingTimeoutMs: options.creatingTimeoutMs,
      pollMs: options.bringUpPollMs,
    },
    buildVaultPush: (
      agent: Parameters<typeof buildVaultPush>[1],
      env: Parameters<typeof buildVaultPush>[2],
      egress: Parameters<typeof buildVaultPush>[3],
    ) => buildVaultPush(options.secretStore, agent, env, egress),
  };
  const runner = new JobRunner({ db, log, leaseMs: options.leaseMs, polling: options.polling, handlers: {} });
  const sessions = new SessionService({
    db,
    launcher,
    warmPool,
    runner,
    sessionEnv,
    signingKey: options.signingKey,
    log,
    creatingTimeoutMs: options.creatingTimeoutMs,
    turns: options.turns,
  });
  runner.setHandlers({
    ...(options.warmPool ? warmPoolJobHandlers({ ...bringUpDeps, warmPool: options.warmPool.settings }) : {}),
    session_bring_up: sessionBringUpHandler({ ...bringUpDeps, sessionEnv }),
    deliver_initial_prompt: initialPromptHandler({ db, turns: sessions.turns, log }),
  });
  const sandboxCallbacks = new SandboxCallbacks({
    db,
    launcher,
    warmPool,
    signingKey: options.signingKey,
    log,
    bootSpec: options.bootSpec,
  });

  async function sweepCreatingTimeouts(): Promise<string[]> {
    const failed = await failTimedOutCreating(db, options.creatingTimeoutMs);
    for (const s of failed) {
      sessionEnv.discard(s.id);
      if (s.sandbox_ref) await launcher.stop(s.sandbox_ref, 'creating timeout').catch(() => undefined);
      log.warn({ session_id: s.id, failure_reason: s.failure_reason }, 'session creating timeout');
    }
    return failed.map((s) => s.id);
  }

  let sweepTimer: NodeJS.Timeout | null = null;
  return {
    runner,
    sessions,
    api: {
      sessions,
      sandboxCallbacks,
      diagnose: (id) => diagnoseSession({ db, launcher, warmPool }, id),
      publicUrl: options.publicUrl ?? null,
    },
    startWorker() {
      runner.start();
      // Only sessions this process brings up can time out on its watch (the idle reaper
      // sweeps everyone's): with no bring-up here since the last look, the query is skipped.
      let sweptAt = Date.now();
      sweepTimer = setInterval(() => {
        if (!runner.ranSince('session_bring_up', sweptAt)) return;
        sweptAt = Date.now();
        sweepCreatingTimeouts().catch((err: Error) =>
          log.error({ err: { message: err.message } }, 'sweep failed'),
        );
      }, options.sweepMs ?? 30_000);
      sweepTimer.unref();
    },
    async stop(drainMs) {
      if (sweepTimer) clearInterval(sweepTimer);
      await runner.stop(drainMs);
    },
    sweepCreatingTimeouts,
  };
}

/** The runtime with the warm pool, from the validated platform config (service entry and local mode). */
export function createPlatformRuntime(
  config: PlatformConfig,
  deps: { db: pg.Pool; launcher: SandboxLauncher; secretStore: SecretStore; log: Logger },
): { runtime: SessionRuntime; warmPool: DatabaseWarmPool } {
  const warmPool = new DatabaseWarmPool({ ...deps, settings: config.warmPool });
  const runtime = createSessionRuntime({
    ...deps,
    warmPool: { pool: warmPool, settings: config.warmPool },
    signingKey: config.harnessTokenSigningKey,
    callbackUrl: config.callbackUrl,
    publicUrl: config.baseUrl,
    vaultCaCertPem: config.vaultCaCertPem,
    egressTokenKey: config.egressTokenKey,
    creatingTimeoutMs: config.sessionCreatingTimeoutMs,
    turns: config.turns,
    polling: config.jobPolling,
    bootSpec: {
      litellmApiBase: config.litellm.apiBase,
      preinstalledGithubRepo: config.preinstalledGithubRepo,
    },
  });
  return { runtime, warmPool };
}
