/**
 * Wires a platform process together, by role:
 *   - worker and `all` (createSessionRuntime): the job runner with every handler (bring-ups,
 *     warm pool, initial prompts), the session service, the sandbox callbacks and the web ->
 *     worker calls (the internal listener), diagnose, and the creating-timeout sweep;
 *   - web (createWebRuntime): the session service and diagnose only, with sandbox control
 *     (describe, stop) but no launcher: sessions with their own env vars go to a worker over
 *     its internal listener, and so do pokes after a queued job and sandbox log reads.
 * The service entry (main.ts) and local mode build one with createPlatformRuntime; `api` is
 * what buildApp takes, `internal` what buildInternalApp takes.
 */
import type pg from 'pg';
import type { ApiDeps, InternalApiDeps } from '../api/deps';
import { sessionBringUpHandler, warmPoolJobHandlers } from '../bring-up/jobs';
import { SessionEnvStash } from '../bring-up/session-env-stash';
import type { PlatformConfig } from '../config';
import { diagnoseSession, LOG_LINES } from '../diagnose/diagnose';
import { JobRunner, type JobRunnerPolling } from '../jobs/job-runner';
import { SandboxCallbacks } from '../lifecycle/sandbox-callbacks';
import { failTimedOutCreating } from '../lifecycle/session-states';
import type { Logger } from '../logger';
import type { BootSpecSettings } from '../sandbox/boot-spec';
import { controlOnly, type SandboxControl, type SandboxLauncher } from '../sandbox/launcher';
import type { SecretStore } from '../secrets/secret-store';
import { OwnedSessionEnvBringUp, WorkerHandOff } from '../sessions/session-env-bring-up';
import { SessionService } from '../sessions/session-service';
import type { TurnSettings } from '../sessions/turns';
import { noWarmPool, type WarmPool } from '../warm-pool/port';
import { DatabaseWarmPool, type WarmPoolSettings } from '../warm-pool/warm-pool';
import { WorkerLink } from '../worker-link/client';
import { initialPromptHandler } from './initial-prompt-job';
import { buildVaultPush } from '../bring-up/vault-push';
import { WorkerCalls } from './worker-calls';

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

/** What every role's runtime gives its entry point. */
export interface RoleRuntime {
  sessions: SessionService;
  /** What buildApp needs besides db, masterKey, secretStore and log. */
  api: Pick<ApiDeps, 'sessions' | 'diagnose' | 'publicUrl'>;
  /** What buildInternalApp needs besides log; null in the web role, which serves no internal listener. */
  internal: Pick<InternalApiDeps, 'sandboxCallbacks' | 'workerCalls'> | null;
  /** Claims queued jobs and sweeps timed-out sessions (worker and `all`; nothing in the web role). */
  startWorker(): void;
  /** Stops taking sessions and claiming jobs, and drains running ones. */
  stop(drainMs?: number): Promise<void>;
}

export interface SessionRuntime extends RoleRuntime {
  runner: JobRunner;
  internal: Pick<InternalApiDeps, 'sandboxCallbacks' | 'workerCalls'>;
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
    wakeJobRunners: () => runner.poke(),
    sessionEnvBringUp: new OwnedSessionEnvBringUp({ db, runner, stash: sessionEnv }),
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
  const workerCalls = new WorkerCalls({
    db,
    secretStore: options.secretStore,
    signingKey: options.signingKey,
    sessions,
    runner,
    launcher,
    log,
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
      diagnose: (id) =>
        diagnoseSession(
          { db, launcher, warmPool, recentLogs: (s) => launcher.recentLogs(s.sandbox_ref!, LOG_LINES) },
          id,
        ),
      publicUrl: options.publicUrl ?? null,
    },
    internal: { sandboxCallbacks, workerCalls },
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
      workerCalls.stopTaking();
      if (sweepTimer) clearInterval(sweepTimer);
      await runner.stop(drainMs);
    },
    sweepCreatingTimeouts,
  };
}

export interface WebRuntimeOptions {
  db: pg.Pool;
  /** Look at and stop sandboxes: all the web role may do to them. */
  sandboxes: SandboxControl;
  secretStore: SecretStore;
  log: Logger;
  warmPool?: WarmPool;
  /** The worker's internal listener: session hand-offs, pokes, sandbox logs. */
  worker: WorkerLink;
  signingKey: string;
  /** BASE_URL (ApiDeps.publicUrl); none: `tty_url` is a path on the host clients called. */
  publicUrl?: string;
  creatingTimeoutMs: number;
  turns: TurnSettings;
}

/** The web role: serves the API, launches nothing (see the module comment). */
export function createWebRuntime(options: WebRuntimeOptions): RoleRuntime {
  const { db, log, worker } = options;
  // Whatever object it was handed, this process keeps only describe/stop/listByTags.
  const sandboxes = controlOnly(options.sandboxes);
  const warmPool = options.warmPool ?? noWarmPool;
  const sessions = new SessionService({
    db,
    launcher: sandboxes,
    warmPool,
    wakeJobRunners: () => void worker.poke(),
    sessionEnvBringUp: new WorkerHandOff({ db, secretStore: options.secretStore, worker }),
    signingKey: options.signingKey,
    log,
    creatingTimeoutMs: options.creatingTimeoutMs,
    turns: options.turns,
  });
  return {
    sessions,
    api: {
      sessions,
      diagnose: (id) =>
        diagnoseSession(
          { db, launcher: sandboxes, warmPool, recentLogs: (s) => worker.recentLogs(s.id, LOG_LINES) },
          id,
        ),
      publicUrl: options.publicUrl ?? null,
    },
    internal: null,
    startWorker() {
      // The web role runs no jobs: the workers do, woken by its pokes.
    },
    async stop() {},
  };
}

/** The runtime of the configured role, with the warm pool, from the validated platform config (service entry, local mode). */
export function createPlatformRuntime(
  config: PlatformConfig,
  deps: { db: pg.Pool; launcher: SandboxLauncher; secretStore: SecretStore; log: Logger },
): { runtime: RoleRuntime } {
  if (config.role === 'web') {
    const sandboxes = controlOnly(deps.launcher);
    const warmPool = new DatabaseWarmPool({ ...deps, launcher: sandboxes, settings: config.warmPool });
    const runtime = createWebRuntime({
      ...deps,
      sandboxes,
      warmPool,
      worker: new WorkerLink({
        baseUrl: config.workerInternalUrl!,
        signingKey: config.harnessTokenSigningKey,
      }),
      signingKey: config.harnessTokenSigningKey,
      publicUrl: config.baseUrl,
      creatingTimeoutMs: config.sessionCreatingTimeoutMs,
      turns: config.turns,
    });
    return { runtime };
  }
  const warmPool = new DatabaseWarmPool({ ...deps, settings: config.warmPool });
  const runtime = createSessionRuntime({
    ...deps,
    warmPool: { pool: warmPool, settings: config.warmPool },
    signingKey: config.harnessTokenSigningKey,
    callbackUrl: config.callbackUrl!,
    publicUrl: config.baseUrl,
    vaultCaCertPem: config.vaultCaCertPem!,
    egressTokenKey: config.egressTokenKey,
    creatingTimeoutMs: config.sessionCreatingTimeoutMs,
    turns: config.turns,
    polling: config.jobPolling,
    bootSpec: {
      litellmApiBase: config.litellm.apiBase,
      preinstalledGithubRepo: config.preinstalledGithubRepo,
    },
  });
  return { runtime };
}
