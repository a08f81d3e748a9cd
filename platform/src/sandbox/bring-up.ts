/**
 * The steps that bring a sandbox up, shared by session cold starts (worker) and
 * the warm pool: launch, wait until running, push the real secrets to the vault,
 * wait until the harness listens. Each step is independent of sessions and of the
 * database; the one bring-up sequence (bring-up/bring-up.ts) reports phases through
 * the callbacks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import {
  HARNESS_PORT,
  VAULT_ADMIN_SERVER_NAME,
  type HarnessId,
  type HarnessLaunchEnvironment,
  type VaultLaunchEnvironment,
  type VaultSecretsPush,
  type VaultSecretsPushResult,
} from '@lap/sandbox-protocol';
import { probeHealth } from '../harness/client';
import type { SandboxFailure, SandboxLauncher, SandboxState } from './launcher';
import { callbackToken, harnessToken, newVaultAdminToken } from './tokens';

/** A bring-up that cannot succeed; the message is the user-facing failure_reason. */
export class BringUpError extends Error {
  constructor(
    message: string,
    readonly failure: SandboxFailure | null = null,
  ) {
    super(message);
    this.name = 'BringUpError';
  }
}

export interface LaunchSandboxInput {
  sandboxId: string;
  kind: 'session' | 'warm';
  agent: { id: string; harness_id: HarnessId; harness_image: string | null };
  signingKey: string;
  /** How the sandbox reaches the platform (internal routes). */
  callbackUrl: string;
}

export interface LaunchedSandbox {
  ref: string;
  /** One-time vault admin token: kept in memory by the caller until the push, stored nowhere. */
  vaultAdminToken: string;
}

/** Starts the sandbox. The harness gets its tokens; the vault gets only its one-time admin token. */
export async function launchSandbox(
  launcher: SandboxLauncher,
  input: LaunchSandboxInput,
): Promise<LaunchedSandbox> {
  const vaultAdminToken = newVaultAdminToken();
  const { ref } = await launcher.launch({
    sandboxId: input.sandboxId,
    kind: input.kind,
    agentId: input.agent.id,
    harnessId: input.agent.harness_id,
    harnessImage: input.agent.harness_image,
    harnessEnv: {
      SANDBOX_ID: input.sandboxId,
      HARNESS_ID: input.agent.harness_id,
      PORT: `${HARNESS_PORT}`,
      HARNESS_TOKEN: harnessToken(input.signingKey, input.sandboxId),
      CALLBACK_URL: input.callbackUrl,
      CALLBACK_TOKEN: callbackToken(input.signingKey, input.sandboxId),
    } satisfies HarnessLaunchEnvironment,
    vaultEnv: { VAULT_ADMIN_TOKEN: vaultAdminToken } satisfies VaultLaunchEnvironment,
  });
  return { ref, vaultAdminToken };
}

export interface WaitOptions {
  /** Absolute time (ms since epoch) after which the step gives up. */
  deadline: number;
  pollMs?: number;
  signal?: AbortSignal;
}

function remaining(deadline: number): number {
  return deadline - Date.now();
}

/**
 * Polls the launcher until the sandbox runs and has addresses. Reports
 * `pod_pending` / `pod_running` as they are seen. Throws BringUpError when the
 * sandbox stops or fails to start.
 */
export async function awaitSandboxRunning(
  launcher: SandboxLauncher,
  ref: string,
  options: WaitOptions & { onPhase?: (phase: 'pod_pending' | 'pod_running') => Promise<void> | void },
): Promise<SandboxState & { harnessUrl: string; vaultAdminUrl: string }> {
  let reportedPending = false;
  for (;;) {
    options.signal?.throwIfAborted();
    const state = await launcher.describe(ref);
    if (state === null) throw new BringUpError(`sandbox ${ref} disappeared before it was running`);
    if (state.failure || state.lifecycle === 'stopping' || state.lifecycle === 'stopped') {
      const why = state.failure?.message ?? state.stopReason ?? 'stopped';
      throw new BringUpError(`sandbox stopped before it was running: ${why}`, state.failure);
    }
    if (!reportedPending && state.lifecycle !== 'provisioning') {
      reportedPending = true;
      await options.onPhase?.('pod_pending');
    }
    if (state.lifecycle === 'running' && state.harnessUrl && state.vaultAdminUrl) {
      if (!reportedPending) await options.onPhase?.('pod_pending');
      await options.onPhase?.('pod_running');
      return { ...state, harnessUrl: state.harnessUrl, vaultAdminUrl: state.vaultAdminUrl };
    }
    if (remaining(options.deadline) <= 0)
      throw new BringUpError(`sandbox not running in time (last state: ${state.lifecycle})`);
    await sleep(Math.min(options.pollMs ?? 500, Math.max(remaining(options.deadline), 1)));
  }
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_SOCKET']);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code;
}

/**
 * Pushes the real secret values to the vault admin endpoint over TLS verified with
 * the deployment CA (servername `lap-vault`). Retries while the vault is not
 * listening yet. The values travel only in this request body.
 */
export async function pushVaultSecrets(input: {
  vaultAdminUrl: string;
  adminToken: string;
  caCertPem: string;
  push: VaultSecretsPush;
  wait: WaitOptions;
}): Promise<VaultSecretsPushResult> {
  const dispatcher = new Agent({ connect: { ca: input.caCertPem, servername: VAULT_ADMIN_SERVER_NAME } });
  try {
    for (;;) {
      input.wait.signal?.throwIfAborted();
      try {
        const res = await request(new URL('/v1/secrets', input.vaultAdminUrl), {
          method: 'POST',
          dispatcher,
          headers: { authorization: `Bearer ${input.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(input.push),
          headersTimeout: 30_000,
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return JSON.parse(text) as VaultSecretsPushResult;
        // The vault's error text names the problem, never a value.
        throw new BringUpError(`vault refused the secrets (HTTP ${res.statusCode}): ${text.slice(0, 300)}`);
      } catch (err) {
        if (err instanceof BringUpError) throw err;
        const code = errorCode(err);
        if (!code || !CONNECT_ERRORS.has(code) || remaining(input.wait.deadline) <= 0)
          throw new BringUpError(`could not reach the vault admin endpoint: ${(err as Error).message}`);
        await sleep(input.wait.pollMs ?? 250);
      }
    }
  } finally {
    await dispatcher.close();
  }
}

export type ReportedHarnessPhase = { state: 'listening' } | { state: 'failed'; reason: string } | null;

/** The harness's conversation id as its /health reports it (contract 7), when it does. */
export type ReadyHarness = { harnessSessionId: string | null };

/**
 * Waits until the harness listens. The harness's own callback (harness_listening,
 * read through `reportedPhase`) is the primary signal; a direct probe of
 * GET /health answering `ok` also counts, for sandboxes whose callback cannot
 * reach the platform.
 */
export async function awaitHarnessReady(input: {
  harnessUrl: string;
  reportedPhase: () => Promise<ReportedHarnessPhase>;
  wait: WaitOptions;
}): Promise<ReadyHarness> {
  let answered = false;
  for (;;) {
    input.wait.signal?.throwIfAborted();
    const reported = await input.reportedPhase();
    if (reported?.state === 'failed') throw new BringUpError(`harness failed to start: ${reported.reason}`);
    const probe = await probeHealth(input.harnessUrl, 2000);
    // Its agent process died while starting: waiting out the deadline cannot help.
    if (probe.state === 'dead') throw new BringUpError(`harness's agent process died: ${probe.reason}`);
    const health = probe.state === 'answering' ? probe.health : null;
    answered ||= health !== null;
    if (health?.status === 'ok' || (reported?.state === 'listening' && health))
      return { harnessSessionId: health.harness_session_id ?? null };
    if (reported?.state === 'listening') return { harnessSessionId: null };
    if (remaining(input.wait.deadline) <= 0)
      throw new BringUpError(
        answered ? 'harness did not finish booting in time' : 'harness did not answer in time',
      );
    await sleep(Math.min(input.wait.pollMs ?? 500, Math.max(remaining(input.wait.deadline), 1)));
  }
}
