import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type KeyValuePair,
  type RunTaskCommandInput,
  type Task,
} from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { SANDBOX_CONTAINERS } from '@lap/sandbox-protocol';
import {
  SandboxLaunchError,
  type SandboxFailure,
  type SandboxLaunchResult,
  type SandboxLaunchSpec,
  type SandboxLauncher,
  type SandboxState,
  type SandboxTags,
} from '../launcher';
import { classifyEcsError, classifyRunTaskFailures } from './failure-classification';
import { SANDBOX_LAUNCH_REFUSED_MESSAGE } from './log-messages';
import { PinnedTaskDefinitions } from './pinned-task-definitions';
import type { EcsSandboxSettings, SandboxCapacity } from './settings';
import { sandboxStateOf } from './task-state';
import { DEFAULT_RETRY_POLICY, withThrottlingRetry, type RetryPolicy } from './throttling-retry';

/** ECS rejects RunTask when the JSON of `overrides` exceeds 8 KiB. */
export const ECS_OVERRIDES_LIMIT_BYTES = 8192;

/**
 * Deployment-wide real values reach the vault through ECS `secrets` in the task
 * definition (fetched by the execution role). These names in a RunTask override
 * would put a real secret into the request and DescribeTasks output, so they are refused.
 */
const FORBIDDEN_OVERRIDE_ENV = [/^REAL_/, /^VAULT_CA_KEY$/];

export interface EcsSandboxLauncherOptions {
  settings: EcsSandboxSettings;
  ecs?: ECSClient;
  logs?: CloudWatchLogsClient;
  retry?: RetryPolicy;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

type CapacityChoice = 'spot' | 'on-demand';

const CAPACITY_PLAN: Record<SandboxCapacity, CapacityChoice[]> = {
  'spot-with-fallback': ['spot', 'on-demand'],
  spot: ['spot'],
  'on-demand': ['on-demand'],
};

/** One Fargate task per sandbox (harness + vault containers), in the private sandbox subnets. */
export class EcsSandboxLauncher implements SandboxLauncher {
  private readonly ecs: ECSClient;
  private readonly logs: CloudWatchLogsClient;
  private readonly settings: EcsSandboxSettings;
  private readonly retry: RetryPolicy;
  private readonly pinned: PinnedTaskDefinitions;
  private readonly log: (message: string, fields: Record<string, unknown>) => void;
  private readonly logConfigs = new Map<string, Promise<Array<{ group: string; stream: string }>>>();

  constructor(options: EcsSandboxLauncherOptions) {
    this.settings = options.settings;
    this.ecs = options.ecs ?? new ECSClient({});
    this.logs = options.logs ?? new CloudWatchLogsClient({});
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.log =
      options.log ??
      ((message, fields) => console.log(JSON.stringify({ level: 'info', msg: message, ...fields })));
    this.pinned = new PinnedTaskDefinitions(
      this.ecs,
      this.retry,
      {
        executionRoleArn: this.settings.executionRoleArn,
        taskRoleArn: this.settings.taskRoleArn,
      },
      this.settings.environment,
    );
  }

  /** `startedBy` marks our tasks so listings skip everything else in the cluster (max 36 chars). */
  private get startedBy(): string {
    return `lap/${this.settings.environment}`.replace(/[^\w/-]/g, '_').slice(0, 36);
  }

  async launch(spec: SandboxLaunchSpec): Promise<SandboxLaunchResult> {
    const template = this.settings.taskDefinitions[spec.harnessId];
    if (!template) {
      throw new SandboxLaunchError({
        code: 'launch_failed',
        message: `no sandbox task definition for harness "${spec.harnessId}": add it to SANDBOX_TASK_DEFINITIONS`,
      });
    }
    const taskDefinition = spec.harnessImage
      ? await this.pinnedTaskDefinition(template, spec.harnessImage)
      : template;
    const base = this.runTaskInput(spec, taskDefinition);
    let failure: SandboxFailure | null = null;
    for (const capacity of CAPACITY_PLAN[this.settings.capacity]) {
      const input: RunTaskCommandInput = {
        ...base,
        // Idempotent per sandbox and capacity: a retried call (timeout, crashed worker)
        // gets the task that was already started instead of a second one.
        clientToken: `${spec.sandboxId}-${capacity}`,
        ...(capacity === 'spot'
          ? { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }
          : { launchType: 'FARGATE' }),
      };
      try {
        const out = await withThrottlingRetry(() => this.ecs.send(new RunTaskCommand(input)), this.retry);
        const taskArn = out.tasks?.[0]?.taskArn;
        if (taskArn) {
          this.log('sandbox launched', {
            sandbox_id: spec.sandboxId,
            kind: spec.kind,
            capacity,
            task_arn: taskArn,
          });
          return { ref: taskArn };
        }
        failure = classifyRunTaskFailures(out.failures ?? []);
      } catch (error) {
        failure = classifyEcsError(`${(error as Error).name}: ${(error as Error).message}`);
      }
      this.log(SANDBOX_LAUNCH_REFUSED_MESSAGE, {
        sandbox_id: spec.sandboxId,
        capacity,
        code: failure.code,
        detail: failure.message,
      });
      if (failure.code !== 'capacity_unavailable') break;
    }
    throw new SandboxLaunchError(
      failure ?? { code: 'launch_failed', message: 'no capacity strategy was tried' },
    );
  }

  private async pinnedTaskDefinition(template: string, image: string): Promise<string> {
    try {
      return await this.pinned.resolve(template, image);
    } catch (error) {
      throw new SandboxLaunchError({
        code: 'launch_failed',
        message: `could not register a task definition for the agent's harness_image ${image}: ${(error as Error).message}`,
      });
    }
  }

  private runTaskInput(spec: SandboxLaunchSpec, taskDefinition: string): RunTaskCommandInput {
    const overrides = {
      containerOverrides: [
        { name: SANDBOX_CONTAINERS.harness, environment: toKeyValues(spec.harnessEnv, 'harnessEnv') },
        { name: SANDBOX_CONTAINERS.vault, environment: toKeyValues(spec.vaultEnv, 'vaultEnv') },
      ],
    };
    const size = Buffer.byteLength(JSON.stringify(overrides));
    if (size > ECS_OVERRIDES_LIMIT_BYTES) {
      throw new SandboxLaunchError({
        code: 'launch_failed',
        message: `the sandbox's container environment is ${size} bytes, over ECS's ${ECS_OVERRIDES_LIMIT_BYTES}-byte override limit: large settings belong in the boot spec`,
      });
    }
    const tags: SandboxTags = {
      'lap:sandbox-id': spec.sandboxId,
      'lap:kind': spec.kind,
      'lap:agent-id': spec.agentId,
      'lap:environment': this.settings.environment,
    };
    return {
      cluster: this.settings.clusterArn,
      taskDefinition,
      count: 1,
      startedBy: this.startedBy,
      platformVersion: 'LATEST',
      enableECSManagedTags: true,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: this.settings.subnetIds,
          securityGroups: [this.settings.securityGroupId],
          assignPublicIp: 'DISABLED',
        },
      },
      overrides,
    };
  }

  async describe(ref: string): Promise<SandboxState | null> {
    const tasks = await this.describeTasks([ref]);
    return tasks[0] ? sandboxStateOf(tasks[0]) : null;
  }

  async stop(ref: string, reason: string): Promise<void> {
    try {
      await withThrottlingRetry(
        () =>
          this.ecs.send(
            new StopTaskCommand({
              cluster: this.settings.clusterArn,
              task: ref,
              reason: reason.slice(0, 255),
            }),
          ),
        this.retry,
      );
      this.log('sandbox stopped', { task_arn: ref, reason });
    } catch (error) {
      // Stopping something already gone is the outcome the caller wanted.
      if (/not found|could not find|does not exist/i.test((error as Error).message)) return;
      throw error;
    }
  }

  async listByTags(wanted: Partial<SandboxTags>): Promise<SandboxState[]> {
    const arns: string[] = [];
    // Page by page, each page retried on throttling: the reaper and the warm pool list while
    // bring-ups are hammering the same account-wide ECS rate limit.
    let nextToken: string | undefined;
    do {
      const page = await withThrottlingRetry(
        () =>
          this.ecs.send(
            new ListTasksCommand({
              cluster: this.settings.clusterArn,
              startedBy: this.startedBy,
              desiredStatus: 'RUNNING',
              maxResults: 100,
              nextToken,
            }),
          ),
        this.retry,
      );
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const states: SandboxState[] = [];
    for (let i = 0; i < arns.length; i += 100) {
      for (const task of await this.describeTasks(arns.slice(i, i + 100))) {
        const state = sandboxStateOf(task);
        const matches = Object.entries(wanted).every(
          ([key, value]) => value === undefined || state.tags[key as keyof SandboxTags] === value,
        );
        if (matches) states.push(state);
      }
    }
    return states;
  }

  async recentLogs(ref: string, limit: number): Promise<string[]> {
    const task = (await this.describeTasks([ref]))[0];
    if (!task?.taskDefinitionArn || !task.taskArn) return [];
    const streams = await this.logStreamsOf(task.taskDefinitionArn, task.taskArn);
    const events: Array<{ timestamp: number; line: string }> = [];
    for (const { group, stream } of streams) {
      try {
        const out = await withThrottlingRetry(
          () =>
            this.logs.send(
              new GetLogEventsCommand({
                logGroupName: group,
                logStreamName: stream,
                limit,
                startFromHead: false,
              }),
            ),
          this.retry,
        );
        const container = stream.split('/').at(-2) ?? 'sandbox';
        for (const e of out.events ?? []) {
          events.push({ timestamp: e.timestamp ?? 0, line: `[${container}] ${e.message ?? ''}`.trimEnd() });
        }
      } catch (error) {
        // A container that never started has no stream yet; the other's lines still help.
        if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      }
    }
    return events
      .sort((a, b) => a.timestamp - b.timestamp)
      .slice(-limit)
      .map((e) => e.line);
  }

  /** awslogs streams are `<prefix>/<container>/<task id>` in the group the task definition names. */
  private logStreamsOf(
    taskDefinitionArn: string,
    taskArn: string,
  ): Promise<Array<{ group: string; stream: string }>> {
    let configs = this.logConfigs.get(taskDefinitionArn);
    if (!configs) {
      configs = withThrottlingRetry(
        () => this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn })),
        this.retry,
      ).then((out) =>
        (out.taskDefinition?.containerDefinitions ?? []).flatMap((c) => {
          const options = c.logConfiguration?.options ?? {};
          const group = options['awslogs-group'] ?? this.settings.logGroup;
          const prefix = options['awslogs-stream-prefix'];
          return group && prefix && c.name ? [{ group, stream: `${prefix}/${c.name}` }] : [];
        }),
      );
      configs.catch(() => this.logConfigs.delete(taskDefinitionArn));
      this.logConfigs.set(taskDefinitionArn, configs);
    }
    const taskId = taskArn.split('/').at(-1);
    return configs.then((list) =>
      list.map(({ group, stream }) => ({ group, stream: `${stream}/${taskId}` })),
    );
  }

  private async describeTasks(refs: string[]): Promise<Task[]> {
    if (refs.length === 0) return [];
    const out = await withThrottlingRetry(
      () =>
        this.ecs.send(
          new DescribeTasksCommand({
            cluster: this.settings.clusterArn,
            tasks: refs,
            include: ['TAGS'],
          }),
        ),
      this.retry,
    );
    return out.tasks ?? [];
  }
}

function toKeyValues(env: Record<string, string>, field: string): KeyValuePair[] {
  return Object.entries(env).map(([name, value]) => {
    if (FORBIDDEN_OVERRIDE_ENV.some((pattern) => pattern.test(name))) {
      throw new SandboxLaunchError({
        code: 'launch_failed',
        message: `${field}.${name} would put a real secret into the RunTask request: deployment-wide secrets reach the vault through ECS secrets, agent values through the vault admin push`,
      });
    }
    return { name, value };
  });
}
