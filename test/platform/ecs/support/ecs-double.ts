import crypto from 'node:crypto';
import type {
  DescribeTasksCommandInput,
  ListTasksCommandInput,
  RunTaskCommandInput,
  StopTaskCommandInput,
  Task,
} from '@aws-sdk/client-ecs';

export interface EcsDoubleOptions {
  /** Share of all calls refused with ThrottlingException. Drawn from `random`, not from the
   *  clock: a time-based bucket made the outcome depend on how fast the machine ran the burst. */
  throttleRate: number;
  /** Share of FARGATE_SPOT RunTask calls refused for capacity. */
  spotCapacityErrorRate: number;
  /** Share of on-demand RunTask calls refused for capacity. */
  onDemandCapacityErrorRate: number;
  /** Share of started tasks whose response is lost: as throttling (retried) or as a broken connection. */
  lostResponseRate: number;
  random: () => number;
}

/**
 * An ECS that behaves like the real one under load, behind aws-sdk-client-mock:
 * account-wide throttling, Spot capacity errors, responses lost after the task was
 * started, and RunTask idempotency by clientToken. It remembers every task it started.
 */
export class EcsDouble {
  readonly tasks = new Map<string, Task>();
  private readonly byClientToken = new Map<string, string>();
  runTaskCalls = 0;
  throttled = 0;

  constructor(private readonly options: EcsDoubleOptions) {}

  private take(): void {
    if (this.options.random() < this.options.throttleRate) {
      this.throttled++;
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    }
  }

  runTask(input: RunTaskCommandInput) {
    this.runTaskCalls++;
    this.take();
    const existing = input.clientToken ? this.byClientToken.get(input.clientToken) : undefined;
    if (existing) return { tasks: [this.tasks.get(existing)!], failures: [] };
    const spot = input.capacityProviderStrategy?.[0]?.capacityProvider === 'FARGATE_SPOT';
    const capacityRate = spot ? this.options.spotCapacityErrorRate : this.options.onDemandCapacityErrorRate;
    if (this.options.random() < capacityRate) {
      return {
        tasks: [],
        failures: [
          {
            reason:
              'Capacity is unavailable at this time. Please try again later or in a different availability zone',
          },
        ],
      };
    }
    const taskArn = `arn:aws:ecs:eu-west-1:123456789012:task/lap/${crypto.randomBytes(12).toString('hex')}`;
    const task: Task = {
      taskArn,
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      startedBy: input.startedBy,
      tags: input.tags,
      attachments: [
        {
          type: 'ElasticNetworkInterface',
          details: [
            { name: 'privateIPv4Address', value: `10.9.${this.tasks.size >> 8}.${this.tasks.size & 255}` },
          ],
        },
      ],
    };
    this.tasks.set(taskArn, task);
    if (input.clientToken) this.byClientToken.set(input.clientToken, taskArn);
    const lost = this.options.random();
    if (lost < this.options.lostResponseRate / 2) {
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    }
    if (lost < this.options.lostResponseRate) {
      throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' });
    }
    return { tasks: [task], failures: [] };
  }

  describeTasks(input: DescribeTasksCommandInput) {
    this.take();
    return {
      tasks: (input.tasks ?? []).flatMap((arn) => (this.tasks.has(arn) ? [this.tasks.get(arn)!] : [])),
    };
  }

  listTasks(input: ListTasksCommandInput) {
    this.take();
    const arns = [...this.tasks.values()]
      .filter((t) => t.desiredStatus === 'RUNNING' && (!input.startedBy || t.startedBy === input.startedBy))
      .map((t) => t.taskArn!);
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const end = start + (input.maxResults ?? 100);
    return { taskArns: arns.slice(start, end), nextToken: end < arns.length ? String(end) : undefined };
  }

  stopTask(input: StopTaskCommandInput) {
    this.take();
    const task = this.tasks.get(input.task!);
    if (!task)
      throw Object.assign(new Error('The referenced task was not found.'), {
        name: 'InvalidParameterException',
      });
    task.desiredStatus = 'STOPPED';
    task.lastStatus = 'STOPPED';
    task.stopCode = 'UserInitiated';
    task.stoppedReason = input.reason;
    return { task };
  }

  running(): Task[] {
    return [...this.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
  }
}
