import type { HarnessId } from '@lap/sandbox-protocol';

/**
 * What a process may do to sandboxes without launching one: look at them and stop them.
 * The web service holds only this (its role cannot RunTask, PassRole or read sandbox logs),
 * as do the warm-pool and reaper functions.
 */
export interface SandboxControl {
  /** Current state, or null when the sandbox is unknown (never existed, or long gone). */
  describe(ref: string): Promise<SandboxState | null>;
  /** Stops the sandbox; a sandbox that is already stopped or unknown is not an error. */
  stop(ref: string, reason: string): Promise<void>;
  /** Every running or starting sandbox carrying all of these tags (orphan and warm-pool sweeps). */
  listByTags(tags: Partial<SandboxTags>): Promise<SandboxState[]>;
}

/**
 * Where sandboxes run. One implementation per capacity type: local processes
 * (local mode), ECS Fargate tasks (AWS); an EKS one can follow without touching
 * anything above this interface. Only the worker role holds one.
 */
export interface SandboxLauncher extends SandboxControl {
  /** Starts a sandbox and returns as soon as the capacity accepted it (not when it is running). */
  launch(spec: SandboxLaunchSpec): Promise<SandboxLaunchResult>;
  /** Recent log lines of the sandbox's containers, newest last (diagnose). */
  recentLogs(ref: string, limit: number): Promise<string[]>;
}

/**
 * The control half of a launcher, as an object that has nothing else: what a web process
 * gets, so no code path in it can launch a sandbox or read its logs, whatever it is handed.
 */
export function controlOnly(launcher: SandboxControl): SandboxControl {
  return {
    describe: (ref) => launcher.describe(ref),
    stop: (ref, reason) => launcher.stop(ref, reason),
    listByTags: (tags) => launcher.listByTags(tags),
  };
}

export interface SandboxTags {
  'lap:sandbox-id': string;
  'lap:kind': 'session' | 'warm';
  'lap:agent-id': string;
  'lap:environment': string;
}

export interface SandboxLaunchSpec {
  /** The session id for a cold start, the warm sandbox id for the warm pool. */
  sandboxId: string;
  kind: 'session' | 'warm';
  agentId: string;
  harnessId: HarnessId;
  /** An image the agent pinned (PATCH harness_image); null uses the harness's default image. */
  harnessImage: string | null;
  /** Non-secret, per-sandbox environment for the harness container (HarnessLaunchEnvironment in the protocol). */
  harnessEnv: Record<string, string>;
  /** Non-secret, per-sandbox environment for the vault container: the one-time VAULT_ADMIN_TOKEN (VaultLaunchEnvironment). */
  vaultEnv: Record<string, string>;
}

export interface SandboxLaunchResult {
  /** Opaque id of the sandbox: the task ARN on ECS. */
  ref: string;
}

export type SandboxLifecycle = 'provisioning' | 'pending' | 'running' | 'stopping' | 'stopped';

export interface SandboxState {
  ref: string;
  lifecycle: SandboxLifecycle;
  tags: Partial<SandboxTags>;
  /** Base URL of the harness (http://ip:4096) once the sandbox has an address. */
  harnessUrl: string | null;
  /** Base URL of the vault admin endpoint (https://ip:14323) once the sandbox has an address. */
  vaultAdminUrl: string | null;
  startedAt: Date | null;
  stoppedAt: Date | null;
  /** Why it stopped or could not start, in words a user can act on. */
  stopReason: string | null;
  /** A classified failure, when there is one (diagnose codes, failure_reason). */
  failure: SandboxFailure | null;
}

export type SandboxFailureCode =
  | 'image_pull_failed'
  | 'capacity_unavailable'
  | 'subnet_ip_exhausted'
  | 'vcpu_quota_exceeded'
  | 'essential_container_exited'
  | 'launch_failed';

export interface SandboxFailure {
  code: SandboxFailureCode;
  message: string;
}

/** Thrown by `launch()` when the capacity refused the sandbox; carries the classified failure. */
export class SandboxLaunchError extends Error {
  constructor(readonly failure: SandboxFailure) {
    super(failure.message);
    this.name = 'SandboxLaunchError';
  }
}
