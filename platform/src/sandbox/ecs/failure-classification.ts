import type { SandboxFailure, SandboxFailureCode } from '../launcher';

/**
 * Turns what ECS says (RunTask `failures[].reason`, exception messages, a stopped
 * task's `stoppedReason` and container reasons) into a failure code and a message
 * a user can act on. The patterns follow the wording ECS and Fargate use in their
 * error messages; anything unrecognised stays `launch_failed` with the raw text.
 */
const PATTERNS: Array<{ code: SandboxFailureCode; pattern: RegExp; advice: string }> = [
  {
    code: 'image_pull_failed',
    pattern:
      /CannotPullContainerError|pull image manifest|manifest unknown|repository does not exist|ImagePull/i,
    advice:
      'the sandbox image could not be pulled: check the image name/tag and that the execution role may pull it',
  },
  {
    code: 'subnet_ip_exhausted',
    pattern: /InsufficientFreeAddressesInSubnet|free (ip )?addresses|no (more )?available ip/i,
    advice:
      'the sandbox subnets have no free IP addresses (every sandbox takes one): add or widen SANDBOX_SUBNET_IDS',
  },
  {
    code: 'vcpu_quota_exceeded',
    pattern: /vCPU|limit on the number of (tasks|vcpus)|exceeded (the )?quota/i,
    advice:
      'the account reached its Fargate vCPU quota: stop idle sessions or request a Service Quotas increase',
  },
  {
    code: 'capacity_unavailable',
    pattern:
      /capacity is unavailable|insufficient capacity|no capacity|capacity.*not available|SpotInterruption/i,
    advice:
      'Fargate has no capacity for the sandbox right now: retry later or use SANDBOX_CAPACITY=on-demand',
  },
];

/** Classifies one piece of ECS error text; unrecognised text is `launch_failed`. */
export function classifyEcsError(text: string): SandboxFailure {
  const raw = text.trim() || 'ECS gave no reason';
  for (const { code, pattern, advice } of PATTERNS) {
    if (pattern.test(raw)) return { code, message: `${advice} (ECS: ${raw})` };
  }
  return { code: 'launch_failed', message: `the sandbox could not be started (ECS: ${raw})` };
}

/** RunTask's `failures[]` for a single-task launch. */
export function classifyRunTaskFailures(
  failures: Array<{ reason?: string; detail?: string }>,
): SandboxFailure {
  const text = failures.map((f) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ');
  return classifyEcsError(text || 'RunTask started no task and reported no failure');
}

export interface StoppedTaskFacts {
  stopCode?: string;
  stoppedReason?: string;
  containers?: Array<{ name?: string; exitCode?: number; reason?: string }>;
}

/**
 * Why a stopped task stopped, as a user-facing reason plus a failure when the stop
 * was not asked for. A stop the platform requested (UserInitiated) is no failure.
 */
export function classifyStoppedTask(task: StoppedTaskFacts): {
  reason: string;
  failure: SandboxFailure | null;
} {
  const containerNotes = (task.containers ?? [])
    .filter((c) => c.reason || (c.exitCode !== undefined && c.exitCode !== null))
    .map((c) => `${c.name ?? 'container'}: ${c.reason ?? `exit code ${c.exitCode}`}`);
  const reason = [task.stoppedReason, ...containerNotes].filter(Boolean).join('; ') || 'stopped';
  if (task.stopCode === 'UserInitiated' || task.stopCode === 'ServiceSchedulerInitiated') {
    return { reason, failure: null };
  }
  if (task.stopCode === 'SpotInterruption' || task.stopCode === 'TerminationNotice') {
    return {
      reason,
      failure: {
        code: 'capacity_unavailable',
        message: `Fargate Spot reclaimed the sandbox's capacity (ECS: ${reason})`,
      },
    };
  }
  const classified = classifyEcsError(reason);
  if (classified.code !== 'launch_failed') return { reason, failure: classified };
  if (task.stopCode === 'EssentialContainerExited') {
    const exited = (task.containers ?? []).find(
      (c) => c.exitCode !== undefined && c.exitCode !== null && c.exitCode !== 0,
    );
    const which = exited
      ? `${exited.name} exited with code ${exited.exitCode}`
      : 'an essential container exited';
    return {
      reason,
      failure: {
        code: 'essential_container_exited',
        message: `the sandbox stopped: ${which} (ECS: ${reason})`,
      },
    };
  }
  return { reason, failure: task.stopCode || task.stoppedReason ? classified : null };
}
