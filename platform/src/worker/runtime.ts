/**
 * Wires the session runtime together: the job runner with its handlers, the
 * session manager, sandbox callbacks and diagnose, plus the creating-timeout sweep.
 * Used by the service entry (main.ts) and local mode alike.
 */
import type pg from 'pg';
import type { RuntimeServices, SessionService } from '../api/deps';
import type { PlatformConfig } from '../config';
import type { JobKind } from '../db/jobs';
import { failTimedOutCreatingSessions } from '../db/sessions';
import { diagnoseSession } from '../diagnose/diagnose';
import type { BootSpecSettings } from '../sandbox/boot-spec';
import type { SandboxLauncher } from '../sandbox/launcher';
import { noWarmPool, type WarmPool } from '../sandbox/warm-pool-port';
import type { SecretStore } from '../secrets/secret-store';
import { DatabaseWarmPool } from '../warm-pool/warm-pool';
import { warmPoolJobHandlers } from '../warm-pool/warm-bring-up';
import { sessionBringUpHandler } from './bring-up-job';
import { initialPromptHandler } from './initial-prompt-job';
import { JobRunner, type JobHandler } from './job-runner';
import type { Logger } from './logger';
import { SandboxCallbacks } from './sandbox-callbacks';
import { SessionEnvStash } from './session-env-stash';
import { SessionManager } from './session-service';

export interface SessionRuntimeOptions {
  db: pg.Pool;
  launcher: SandboxLauncher;
  secretStore: SecretStore;
  log: Logger;
  warmPool?: WarmPool;
  signingKey: string;
  callbackUrl: string;
  /** PEM of the deployment CA; required to push secrets (worker role). */
  vaultCaCertPem: string | undefined;
  /** EGRESS_TOKEN_KEY, when sandboxes reach the internet only through the egress gateway. */
  egressTokenKey?: string;
  creatingTimeoutMs: number;
  bootSpec: BootSpecSettings;
  leaseMs?: number;
  pollMs?: number;
  /** How often the creating-timeout sweep runs. */
  sweepMs?: number;
  /** Handlers of other job kinds run by the same runner (the warm pool's). */
  extraJobHandlers?: Partial<Record<JobKind, JobHandler>>;
}

export interface SessionRuntime {
  runner: JobRunner;
  sessionManager: SessionManager;
  /** What buildApp needs: `deps.sessions` and `deps.runtime`. */
  api: { sessions: SessionService; runtime: RuntimeServices };
  /** Claims queued jobs and sweeps timed-out sessions (the worker role). */
  startWorker(): void;
  /** Stops claiming and drains running jobs. */
  stop(drainMs?: number): Promise<void>;
  /** One creating-timeout sweep; returns the ids it failed. */
  sweepCreatingTimeouts(): Promise<string[]>;
}

export function createSessionRuntime(options: SessionRuntimeOptions): SessionRuntime {
  const { db, launcher, log } = options;
  const warmPool = options.warmPool ?? noWarmPool;
  const sessionEnv = new SessionEnvStash();
  const bringUp = sessionBringUpHandler({
    db,
    launcher,
    secretStore: options.secretStore,
    sessionEnv,
    log,
    settings: {
      signingKey: options.signingKey,
      callbackUrl: options.callbackUrl,
      vaultCaCertPem: options.vaultCaCertPem ?? '',
      egressTokenKey: options.egressTokenKey,
      creatingTimeoutMs: options.creatingTimeoutMs,
      pollMs: options.pollMs,
    },
  });
  const runner = new JobRunner({
    db,
    log,
    leaseMs: options.leaseMs,
    pollMs: options.pollMs,
    handlers: {
      ...options.extraJobHandlers,
      session_bring_up: bringUp,
      deliver_initial_prompt: initialPromptHandler({ db, launcher, signingKey: options.signingKey, log }),
    },
  });
  const sessionManager = new SessionManager({
    db,
    launcher,
    warmPool,
    runner,
    sessionEnv,
    signingKey: options.signingKey,
    log,
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
    const failed = await failTimedOutCreatingSessions(db, options.creatingTimeoutMs);
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
    sessionManager,
    api: {
      sessions: sessionManager,
      runtime: {
        sessionManager,
        sandboxCallbacks,
        harnessTokenSigningKey: options.signingKey,
        diagnose: (id) => diagnoseSession({ db, launcher, warmPool }, id),
      },
    },
    startWorker() {
      runner.start();
      sweepTimer = setInterval(() => {
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

/** The session runtime with the warm pool, from the validated platform config (service entry and local mode). */
export function createPlatformRuntime(
  config: PlatformConfig,
  deps: { db: pg.Pool; launcher: SandboxLauncher; secretStore: SecretStore; log: Logger },
): { runtime: SessionRuntime; warmPool: DatabaseWarmPool } {
  const warmPool = new DatabaseWarmPool({ ...deps, settings: config.warmPool });
  const bringUpSettings = {
    signingKey: config.harnessTokenSigningKey,
    callbackUrl: config.callbackUrl,
    vaultCaCertPem: config.vaultCaCertPem,
    egressTokenKey: config.egressTokenKey,
    creatingTimeoutMs: config.sessionCreatingTimeoutMs,
  };
  const runtime = createSessionRuntime({
    ...deps,
    ...bringUpSettings,
    warmPool,
    bootSpec: {
      litellmApiBase: config.litellm.apiBase,
      preinstalledGithubRepo: config.preinstalledGithubRepo,
    },
    extraJobHandlers: warmPoolJobHandlers({ ...deps, warmPool: config.warmPool, settings: bringUpSettings }),
  });
  return { runtime, warmPool };
}
