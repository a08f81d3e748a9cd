/**
 * The bring-up, written once: from nothing to a sandbox whose harness listens, for two
 * targets (bring-up/targets.ts): a session's cold start (job `session_bring_up`) and a
 * warm sandbox (job `warm_bring_up`). Launch, wait until running, push the real
 * secrets to the vault, wait for the harness; each step reports to the target, which
 * records it (phases, addresses) and says when its row has ended under it.
 *
 * A resumed run (its runner died) keeps a sandbox whose vault already got its secrets
 * when the target can (sessions), and otherwise replaces it: the vault's one-time
 * admin token died with the old runner.
 */
import type { VaultSecretsPush } from '@lap/sandbox-protocol';
import type pg from 'pg';
import { getAgent, type AgentRecord } from '../db/agents';
import {
  awaitHarnessReady,
  awaitSandboxRunning,
  BringUpError,
  launchSandbox,
  pushVaultSecrets,
  type ReadyHarness,
  type ReportedHarnessPhase,
} from '../sandbox/bring-up';
import { SandboxLaunchError, type SandboxLauncher } from '../sandbox/launcher';
import type { Logger } from '../logger';
import type { EgressTokenInput } from './vault-push';
import type { SessionEnv } from './session-env-stash';

export interface BringUpSettings {
  signingKey: string;
  callbackUrl: string;
  vaultCaCertPem: string;
  /** EGRESS_TOKEN_KEY: with it, the push carries the sandbox's egress token (enforced egress). */
  egressTokenKey?: string;
  /** Every bring-up gets this long (SESSION_CREATING_TIMEOUT_MS) from its row's creation. */
  creatingTimeoutMs: number;
  pollMs?: number;
}

export interface BringUpDeps {
  db: pg.Pool;
  launcher: SandboxLauncher;
  log: Logger;
  settings: BringUpSettings;
  /** What the vault gets: the agent's secrets, and the session's own when there are any. */
  buildVaultPush: (
    agent: AgentRecord,
    sessionEnv: SessionEnv | undefined,
    egress: EgressTokenInput,
  ) => Promise<VaultSecretsPush>;
}

/** The target's row left its bring-up state (stopped, deleted, failed by a callback) while bring-up ran. */
export class TargetEnded extends Error {}

/** A sandbox recorded by an earlier run of the same bring-up. */
export interface ExistingSandbox {
  ref: string;
  harnessUrl: string | null;
  /** The vault got its secrets: the sandbox can be awaited again. */
  secretsPushed: boolean;
}

export interface BringUpTarget {
  kind: 'session' | 'warm';
  /** The sandbox id: the session id, or the warm sandbox id. */
  id: string;
  agentId: string;
  /** When the bring-up gives up (ms since epoch). */
  deadline: number;
  /** The per-session env vars, when the target has any; throws BringUpError when they are lost. */
  sessionEnv(): SessionEnv | undefined;
  /** What an earlier run left; null when nothing was launched yet. */
  existingSandbox(): ExistingSandbox | null;
  /** Whether a resumed run may keep the existing sandbox (false: replace it, or fail). */
  replaceSandbox(existing: ExistingSandbox): Promise<void>;
  launched(ref: string): Promise<void>;
  /** A platform phase (`harness_ready` is the boot spec callback's: lifecycle/sandbox-callbacks.ts). */
  phase(phase: 'pod_pending' | 'pod_running' | 'injecting_files' | 'waiting_harness'): Promise<void>;
  running(urls: { ref: string; harnessUrl: string; vaultAdminUrl: string }): Promise<void>;
  reportedPhase(): Promise<ReportedHarnessPhase>;
  ready(harnessUrl: string, agent: AgentRecord, harness: ReadyHarness): Promise<void>;
  /** The bring-up failed: record the reason, stop the sandbox. */
  fail(reason: string, timedOut: boolean): Promise<void>;
  /** The row ended under the bring-up: make sure its sandbox goes too. */
  ended(): Promise<void>;
  /** Called once the vault holds the secrets (per-session values are dropped from memory). */
  secretsPushed(): void;
}

export async function bringUp(deps: BringUpDeps, target: BringUpTarget, signal: AbortSignal): Promise<void> {
  const { launcher, settings } = deps;
  const wait = { deadline: target.deadline, signal, pollMs: settings.pollMs };
  try {
    if (Date.now() >= target.deadline)
      throw new BringUpError(`sandbox did not become ready within ${settings.creatingTimeoutMs / 1000} s`);
    const sessionEnv = target.sessionEnv();
    const agent = await getAgent(deps.db, target.agentId);
    if (!agent) throw new BringUpError('the agent was deleted');

    let existing = target.existingSandbox();
    if (existing) {
      const state = await launcher.describe(existing.ref);
      const usable =
        state &&
        (state.lifecycle === 'running' ||
          state.lifecycle === 'pending' ||
          state.lifecycle === 'provisioning');
      if (!usable || !existing.secretsPushed) {
        await target.replaceSandbox(existing);
        existing = null;
      }
    }

    let harnessUrl = existing?.harnessUrl ?? null;
    if (!existing) {
      let launched;
      try {
        launched = await launchSandbox(launcher, {
          sandboxId: target.id,
          kind: target.kind,
          agent,
          signingKey: settings.signingKey,
          callbackUrl: settings.callbackUrl,
        });
      } catch (err) {
        if (err instanceof SandboxLaunchError) throw new BringUpError(err.message, err.failure);
        throw err;
      }
      await target.launched(launched.ref);
      const running = await awaitSandboxRunning(launcher, launched.ref, {
        ...wait,
        onPhase: (phase) => target.phase(phase),
      });
      await target.running({
        ref: launched.ref,
        harnessUrl: running.harnessUrl,
        vaultAdminUrl: running.vaultAdminUrl,
      });
      await target.phase('injecting_files');
      await pushVaultSecrets({
        vaultAdminUrl: running.vaultAdminUrl,
        adminToken: launched.vaultAdminToken,
        caCertPem: settings.vaultCaCertPem,
        push: await deps.buildVaultPush(agent, sessionEnv, {
          tokenKey: settings.egressTokenKey,
          sandboxId: target.id,
          vaultAdminUrl: running.vaultAdminUrl,
        }),
        wait,
      });
      target.secretsPushed();
      await target.phase('waiting_harness');
      harnessUrl = running.harnessUrl;
    }
    if (!harnessUrl) throw new BringUpError('sandbox has no harness address');

    const harness = await awaitHarnessReady({
      harnessUrl,
      wait,
      reportedPhase: () => target.reportedPhase(),
    });
    await target.ready(harnessUrl, agent, harness);
  } catch (err) {
    if (err instanceof TargetEnded) {
      await target.ended();
      return;
    }
    if (err instanceof BringUpError) {
      const timedOut = Date.now() >= target.deadline;
      await target.fail(err.message, timedOut);
      return;
    }
    throw err;
  }
}
