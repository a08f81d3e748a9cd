import { HARNESS_PORT, VAULT_ADMIN_PORT } from '@lap/sandbox-protocol';
import type { SandboxLifecycle, SandboxState, SandboxTags } from '../launcher';
import { classifyStoppedTask } from './failure-classification';

/**
 * The fields of an ECS task this module reads. Both DescribeTasks results and the
 * `detail` of an EventBridge "ECS Task State Change" event have this shape (the
 * event carries dates as ISO strings).
 */
export interface EcsTaskFacts {
  taskArn?: string;
  lastStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  startedAt?: Date | string;
  stoppedAt?: Date | string;
  tags?: Array<{ key?: string; value?: string }>;
  attachments?: Array<{ type?: string; details?: Array<{ name?: string; value?: string }> }>;
  containers?: Array<{
    name?: string;
    exitCode?: number;
    reason?: string;
    networkInterfaces?: Array<{ privateIpv4Address?: string }>;
  }>;
}

const LIFECYCLE_BY_STATUS: Record<string, SandboxLifecycle> = {
  PROVISIONING: 'provisioning',
  PENDING: 'pending',
  ACTIVATING: 'pending',
  RUNNING: 'running',
  DEACTIVATING: 'stopping',
  STOPPING: 'stopping',
  DEPROVISIONING: 'stopping',
  STOPPED: 'stopped',
  DELETED: 'stopped',
};

const LAP_TAG_KEYS = new Set<string>(['lap:sandbox-id', 'lap:kind', 'lap:agent-id', 'lap:environment']);

export function lifecycleOf(lastStatus: string | undefined): SandboxLifecycle {
  return LIFECYCLE_BY_STATUS[lastStatus ?? ''] ?? 'provisioning';
}

/** The task's private IPv4 address: from its ENI attachment, else from a container's interface. */
export function privateIpOf(task: EcsTaskFacts): string | null {
  for (const attachment of task.attachments ?? []) {
    if (attachment.type !== 'ElasticNetworkInterface') continue;
    const ip = attachment.details?.find((d) => d.name === 'privateIPv4Address')?.value;
    if (ip) return ip;
  }
  for (const container of task.containers ?? []) {
    const ip = container.networkInterfaces?.find((n) => n.privateIpv4Address)?.privateIpv4Address;
    if (ip) return ip;
  }
  return null;
}

export function lapTagsOf(task: EcsTaskFacts): Partial<SandboxTags> {
  const tags: Record<string, string> = {};
  for (const { key, value } of task.tags ?? []) {
    if (key && value !== undefined && LAP_TAG_KEYS.has(key)) tags[key] = value;
  }
  return tags as Partial<SandboxTags>;
}

function dateOf(value: Date | string | undefined): Date | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function sandboxStateOf(task: EcsTaskFacts): SandboxState {
  const lifecycle = lifecycleOf(task.lastStatus);
  const ip = lifecycle === 'stopped' ? null : privateIpOf(task);
  const stopped = lifecycle === 'stopped' || lifecycle === 'stopping';
  const classified = stopped && (task.stopCode || task.stoppedReason) ? classifyStoppedTask(task) : null;
  return {
    ref: task.taskArn ?? '',
    lifecycle,
    tags: lapTagsOf(task),
    harnessUrl: ip ? `http://${ip}:${HARNESS_PORT}` : null,
    vaultAdminUrl: ip ? `https://${ip}:${VAULT_ADMIN_PORT}` : null,
    startedAt: dateOf(task.startedAt),
    stoppedAt: dateOf(task.stoppedAt),
    stopReason: classified?.reason ?? null,
    failure: classified?.failure ?? null,
  };
}
