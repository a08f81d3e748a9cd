/**
 * TEST DOUBLE of the ECS API for the rehearsal: the worker's real launcher (SANDBOX_LAUNCHER=ecs,
 * AWS SDK v3) reaches it through AWS_ENDPOINT_URL_ECS. It serves RunTask, DescribeTasks,
 * ListTasks, StopTask, DescribeTaskDefinition and RegisterTaskDefinition (AWS JSON 1.1) for the
 * task definitions of the synthesized template, and runs each task as a podman pod the way
 * Fargate runs it:
 *   - one network namespace per task (the pod), on the network of the subnets RunTask names, its
 *     address there reported as the ENI's;
 *   - an init process as PID 1 of each container whose definition enables it (`--init`);
 *   - each container with exactly its definition's Environment, its Secrets read from Secrets
 *     Manager (moto) like the ECS agent does with the execution role, the RunTask overrides, and
 *     the variables Fargate adds (AWS_REGION, AWS_DEFAULT_REGION, AWS_EXECUTION_ENV);
 *   - task volumes created root-owned 0755, taking the image directory's ownership and content
 *     only where the image declares that path a VOLUME (first mount wins);
 *   - dependsOn (START, HEALTHY, COMPLETE, SUCCESS) and the definitions' health checks (run with
 *     `podman exec` at their interval, start period and retries);
 *   - the task stops when an essential container exits (stopCode EssentialContainerExited).
 * Nothing here decides for the platform: the worker sees only what DescribeTasks would say.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerDefinition } from './cloud-assembly';
import { INIT_PATH, REHEARSAL_LABEL, type Podman } from './podman';

const ACCOUNT = '123456789012';

export interface RegisteredTaskDefinition {
  family: string;
  revision: number;
  /** Container definitions with every intrinsic already resolved (PascalCase, as in the template). */
  containers: ContainerDefinition[];
  volumes: string[];
  raw: Record<string, unknown>;
}

export interface EcsDoubleOptions {
  podman: Podman;
  region: string;
  /** Local image for an image reference of a container definition. */
  imageFor: (image: unknown) => string;
  /** Secrets Manager, as the execution role reads it: `valueFrom` -> value. */
  secretValue: (valueFrom: string) => Promise<string>;
  /** The VPC's DNS as the sandboxes see it: name -> address. */
  hosts: () => Record<string, string>;
  /** The podman network of each subnet (network.ts). */
  subnetNetworks: Map<string, string>;
  /** Extra mounts per container (the rehearsal's stand-in trust stores), by container name. */
  mounts?: Record<string, string[]>;
  /**
   * Extra environment of one container of one task definition family (the rehearsal's
   * stand-in for a program that needs a real model), by family, then container name.
   */
  standIns?: Record<string, Record<string, Record<string, string>>>;
  /** Image used as the pod's infra container (any local image with `sleep`). */
  infraImage: string;
  workDir: string;
  log: (message: string) => void;
}

type ContainerState = {
  name: string;
  container: string;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  health: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
  exitCode?: number;
  startedAt?: number;
};

interface Task {
  arn: string;
  id: string;
  cluster: string;
  definition: RegisteredTaskDefinition;
  definitionArn: string;
  startedBy?: string;
  tags: Array<{ key: string; value: string }>;
  overrides: Record<string, Record<string, string>>;
  lastStatus: string;
  desiredStatus: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  ip?: string;
  network: string;
  pod: string;
  containers: Map<string, ContainerState>;
  /** Milestones for the rehearsal's report (ms since epoch). */
  timeline: Record<string, number>;
}

class ClientException extends Error {
  readonly type = 'ClientException';
}

/**
 * CloudFormation writes task definitions in PascalCase, the ECS API in camelCase: the same tree
 * with each property name recased, except inside the maps whose keys are data (log options,
 * docker labels, sysctls).
 */
function recase(value: unknown, name: (key: string) => string, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => recase(item, name, parentKey));
  if (value === null || typeof value !== 'object') return value;
  const isMap = ['options', 'dockerlabels', 'systemcontrols'].includes(parentKey.toLowerCase());
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) =>
      isMap ? [key, item] : [name(key), recase(item, name, key)],
    ),
  );
}
const toApiShape = (value: unknown) => recase(value, (key) => key.charAt(0).toLowerCase() + key.slice(1));
const pascal = (value: unknown) => recase(value, (key) => key.charAt(0).toUpperCase() + key.slice(1));

export class EcsDouble {
  readonly tasks = new Map<string, Task>();
  private readonly definitions = new Map<string, RegisteredTaskDefinition[]>();
  private readonly clientTokens = new Map<string, string>();
  private server: http.Server | null = null;
  private stopping = false;

  constructor(private readonly options: EcsDoubleOptions) {}

  register(definition: Omit<RegisteredTaskDefinition, 'revision'>): RegisteredTaskDefinition {
    const revisions = this.definitions.get(definition.family) ?? [];
    const registered = { ...definition, revision: revisions.length + 1 };
    revisions.push(registered);
    this.definitions.set(definition.family, revisions);
    return registered;
  }

  private arnOf(definition: RegisteredTaskDefinition): string {
    return `arn:aws:ecs:${this.options.region}:${ACCOUNT}:task-definition/${definition.family}:${definition.revision}`;
  }

  private lookup(reference: string): RegisteredTaskDefinition {
    const name = reference.includes(':task-definition/')
      ? reference.split(':task-definition/')[1]
      : reference;
    const [family, revision] = name.split(':');
    const revisions = this.definitions.get(family);
    const found = revision ? revisions?.[Number(revision) - 1] : revisions?.at(-1);
    if (!found) throw new ClientException(`Unable to describe task definition. ${reference} not found`);
    return found;
  }

  async listen(port: number): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const action =
          String(req.headers['x-amz-target'] ?? '')
            .split('.')
            .pop() ?? '';
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
        this.handle(action, body).then(
          (out) => {
            res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
            res.end(JSON.stringify(out));
          },
          (error: Error) => {
            const type = error instanceof ClientException ? 'ClientException' : 'ServerException';
            if (type === 'ServerException') this.options.log(`ECS double: ${action} failed: ${error.stack}`);
            res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
            res.end(JSON.stringify({ __type: type, message: error.message }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '0.0.0.0', resolve));
  }

  private async handle(action: string, body: Record<string, unknown>): Promise<unknown> {
    switch (action) {
      case 'RunTask':
        return this.runTask(body);
      case 'DescribeTasks': {
        const refs = (body.tasks as string[]) ?? [];
        const found = refs.map((ref) => this.findTask(ref)).filter((t): t is Task => Boolean(t));
        return {
          tasks: found.map((t) => this.describe(t, ((body.include as string[]) ?? []).includes('TAGS'))),
          failures: refs.filter((ref) => !this.findTask(ref)).map((arn) => ({ arn, reason: 'MISSING' })),
        };
      }
      case 'ListTasks': {
        const wanted = (body.desiredStatus as string) ?? 'RUNNING';
        const arns = [...this.tasks.values()]
          .filter((t) => t.desiredStatus === wanted && (!body.startedBy || t.startedBy === body.startedBy))
          .map((t) => t.arn);
        return { taskArns: arns };
      }
      case 'StopTask': {
        const task = this.findTask(String(body.task));
        if (!task) throw new ClientException('The referenced task was not found.');
        void this.stopTask(task, 'UserInitiated', String(body.reason ?? 'Task stopped by user'));
        return { task: this.describe(task, false) };
      }
      case 'DescribeTaskDefinition': {
        const definition = this.lookup(String(body.taskDefinition));
        return {
          taskDefinition: {
            ...(toApiShape(definition.raw) as Record<string, unknown>),
            containerDefinitions: toApiShape(definition.containers),
            family: definition.family,
            revision: definition.revision,
            taskDefinitionArn: this.arnOf(definition),
            status: 'ACTIVE',
          },
        };
      }
      case 'RegisterTaskDefinition': {
        const containers = (body.containerDefinitions as Array<Record<string, unknown>>).map(
          (c) => pascal(c) as ContainerDefinition,
        );
        const registered = this.register({
          family: String(body.family),
          containers,
          volumes: ((body.volumes as Array<{ name: string }>) ?? []).map((v) => v.name),
          raw: pascal(body) as Record<string, unknown>,
        });
        return {
          taskDefinition: {
            taskDefinitionArn: this.arnOf(registered),
            family: registered.family,
            revision: registered.revision,
            status: 'ACTIVE',
          },
        };
      }
      default:
        throw new ClientException(`the rehearsal's ECS double does not implement ${action}`);
    }
  }

  private findTask(ref: string): Task | undefined {
    return (
      this.tasks.get(ref) ?? [...this.tasks.values()].find((t) => t.id === ref || t.arn.endsWith(`/${ref}`))
    );
  }

  private async runTask(body: Record<string, unknown>): Promise<unknown> {
    const token = body.clientToken ? String(body.clientToken) : null;
    if (token && this.clientTokens.has(token)) {
      return { tasks: [this.describe(this.tasks.get(this.clientTokens.get(token)!)!, true)], failures: [] };
    }
    const definition = this.lookup(String(body.taskDefinition));
    const subnets =
      (body.networkConfiguration as { awsvpcConfiguration?: { subnets?: string[] } } | undefined)
        ?.awsvpcConfiguration?.subnets ?? [];
    const networks = new Set(subnets.map((subnet) => this.options.subnetNetworks.get(subnet)));
    if (subnets.length === 0 || networks.has(undefined) || networks.size !== 1) {
      throw new ClientException(
        `awsvpcConfiguration.subnets must name subnets of one kind of this VPC: ${JSON.stringify(subnets)}`,
      );
    }
    const cluster = String(body.cluster ?? 'default')
      .split('/')
      .pop()!;
    const id = crypto.randomBytes(16).toString('hex');
    const overrides: Task['overrides'] = {};
    const containerOverrides = ((body.overrides as Record<string, unknown>)?.containerOverrides ??
      []) as Array<{
      name: string;
      environment?: Array<{ name: string; value: string }>;
    }>;
    for (const override of containerOverrides) {
      overrides[override.name] = Object.fromEntries(
        (override.environment ?? []).map((e) => [e.name, e.value]),
      );
    }
    const task: Task = {
      arn: `arn:aws:ecs:${this.options.region}:${ACCOUNT}:task/${cluster}/${id}`,
      id,
      cluster,
      definition,
      definitionArn: this.arnOf(definition),
      startedBy: body.startedBy ? String(body.startedBy) : undefined,
      tags: (body.tags as Task['tags']) ?? [],
      overrides,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      createdAt: Date.now(),
      network: [...networks][0]!,
      pod: `lap-rh-task-${id.slice(0, 12)}`,
      containers: new Map(
        definition.containers.map((c) => [
          c.Name,
          {
            name: c.Name,
            container: `lap-rh-task-${id.slice(0, 12)}-${c.Name}`,
            lastStatus: 'PENDING',
            health: 'UNKNOWN',
          },
        ]),
      ),
      timeline: { runTask: Date.now() },
    };
    this.tasks.set(task.arn, task);
    if (token) this.clientTokens.set(token, task.arn);
    this.options.log(`ECS double: RunTask ${definition.family} -> task ${id.slice(0, 12)}`);
    void this.start(task).catch((error: Error) => {
      this.options.log(`ECS double: task ${id.slice(0, 12)} failed to start: ${error.message}`);
      void this.stopTask(
        task,
        'TaskFailedToStart',
        `CannotStartContainerError: ${error.message}`.slice(0, 255),
      );
    });
    return { tasks: [this.describe(task, true)], failures: [] };
  }

  private async start(task: Task): Promise<void> {
    const { podman } = this.options;
    const hosts = Object.entries(this.options.hosts()).flatMap(([name, ip]) => [
      '--add-host',
      `${name}:${ip}`,
    ]);
    await podman.run([
      'pod',
      'create',
      '--name',
      task.pod,
      '--label',
      REHEARSAL_LABEL,
      '--network',
      task.network,
      '--infra-image',
      this.options.infraImage,
      '--infra-command',
      'sleep infinity',
      ...hosts,
    ]);
    await podman.run(['pod', 'start', task.pod]);
    task.ip = await podman.address(
      await podman.run(['pod', 'inspect', '--format', '{{.InfraContainerID}}', task.pod]),
      task.network,
    );
    task.lastStatus = 'PENDING';
    task.timeline.podReady = Date.now();
    // Task volumes: a directory per volume, root-owned 0755 like a fresh Fargate bind mount.
    const volumeDir = path.join(this.options.workDir, 'tasks', task.id);
    const populated = new Set<string>();
    for (const volume of task.definition.volumes) {
      fs.mkdirSync(path.join(volumeDir, volume), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.join(volumeDir, volume), 0o755);
    }
    await Promise.all(
      task.definition.containers.map(async (definition) => {
        await this.waitForDependencies(task, definition);
        if (task.desiredStatus === 'STOPPED') return;
        const image = this.options.imageFor(definition.Image);
        const declared =
          (await podman.inspect<{ Config: { Volumes?: Record<string, unknown> } }>('image', image)).Config
            .Volumes ?? {};
        const mounts: string[] = [];
        for (const mount of definition.MountPoints ?? []) {
          const dir = path.join(volumeDir, mount.SourceVolume);
          if (!populated.has(mount.SourceVolume) && mount.ContainerPath in declared) {
            await this.populateFromImage(image, mount.ContainerPath, dir);
            populated.add(mount.SourceVolume);
          }
          mounts.push('-v', `${dir}:${mount.ContainerPath}${mount.ReadOnly ? ':ro' : ''}`);
        }
        for (const extra of this.options.mounts?.[definition.Name] ?? []) mounts.push('-v', extra);
        const env = await this.environmentOf(task, definition);
        const state = task.containers.get(definition.Name)!;
        await podman.run([
          'create',
          '--pod',
          task.pod,
          '--name',
          state.container,
          '--label',
          REHEARSAL_LABEL,
          ...envArgs(env),
          ...mounts,
          ...(definition.LinuxParameters?.InitProcessEnabled ? ['--init', '--init-path', INIT_PATH] : []),
          ...(definition.EntryPoint ? ['--entrypoint', JSON.stringify(definition.EntryPoint)] : []),
          image,
          ...(definition.Command ?? []),
        ]);
        await podman.run(['start', state.container]);
        state.lastStatus = 'RUNNING';
        state.startedAt = Date.now();
        task.timeline[`${definition.Name}Started`] = state.startedAt;
        void this.watch(task, definition, state);
        if (definition.HealthCheck) void this.healthLoop(task, definition, state);
      }),
    );
    if (task.desiredStatus === 'STOPPED') return;
    task.lastStatus = 'RUNNING';
    task.startedAt = Date.now();
    task.timeline.running = task.startedAt;
    this.options.log(`ECS double: task ${task.id.slice(0, 12)} RUNNING at ${task.ip}`);
  }

  private async waitForDependencies(task: Task, definition: ContainerDefinition): Promise<void> {
    for (const dependency of definition.DependsOn ?? []) {
      const other = task.containers.get(dependency.ContainerName);
      if (!other)
        throw new Error(`${definition.Name} depends on unknown container ${dependency.ContainerName}`);
      for (;;) {
        if (task.desiredStatus === 'STOPPED') return;
        const met =
          (dependency.Condition === 'START' && other.lastStatus !== 'PENDING') ||
          (dependency.Condition === 'HEALTHY' && other.health === 'HEALTHY') ||
          (dependency.Condition === 'COMPLETE' && other.lastStatus === 'STOPPED') ||
          (dependency.Condition === 'SUCCESS' && other.lastStatus === 'STOPPED' && other.exitCode === 0);
        if (met) break;
        if (dependency.Condition === 'HEALTHY' && other.health === 'UNHEALTHY') {
          throw new Error(
            `dependency ${dependency.ContainerName} is unhealthy, ${definition.Name} cannot start`,
          );
        }
        await sleep(100);
      }
    }
  }

  /** Fargate's VOLUME rule: the volume takes the image directory's owner, mode and content. */
  private async populateFromImage(image: string, containerPath: string, dir: string): Promise<void> {
    const { podman } = this.options;
    const root = await podman.run(['image', 'mount', image]);
    try {
      const source = path.join(root, containerPath);
      if (!fs.existsSync(source)) return;
      const stat = fs.statSync(source);
      fs.cpSync(source, dir, { recursive: true, preserveTimestamps: true });
      fs.chownSync(dir, stat.uid, stat.gid);
      fs.chmodSync(dir, stat.mode & 0o7777);
    } finally {
      await podman.run(['image', 'unmount', image]).catch(() => undefined);
    }
  }

  private async environmentOf(task: Task, definition: ContainerDefinition): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      AWS_REGION: this.options.region,
      AWS_DEFAULT_REGION: this.options.region,
      AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
    };
    for (const { Name, Value } of definition.Environment ?? []) env[Name] = String(Value);
    for (const { Name, ValueFrom } of definition.Secrets ?? [])
      env[Name] = await this.options.secretValue(String(ValueFrom));
    Object.assign(env, task.overrides[definition.Name] ?? {});
    Object.assign(env, this.options.standIns?.[task.definition.family]?.[definition.Name] ?? {});
    return env;
  }

  private async watch(task: Task, definition: ContainerDefinition, state: ContainerState): Promise<void> {
    const { podman } = this.options;
    const code = Number(await podman.run(['wait', state.container]).catch(() => '137'));
    state.lastStatus = 'STOPPED';
    state.exitCode = code;
    if (task.desiredStatus === 'STOPPED') return;
    this.options.log(`ECS double: task ${task.id.slice(0, 12)} container ${definition.Name} exited ${code}`);
    if (definition.Essential !== false) {
      await this.stopTask(task, 'EssentialContainerExited', 'Essential container in task exited');
    }
  }

  private async healthLoop(
    task: Task,
    definition: ContainerDefinition,
    state: ContainerState,
  ): Promise<void> {
    const check = definition.HealthCheck!;
    const interval = (check.Interval ?? 30) * 1000;
    const startPeriodEnd = Date.now() + (check.StartPeriod ?? 0) * 1000;
    const [kind, ...command] = check.Command;
    const exec = kind === 'CMD-SHELL' ? ['sh', '-c', command.join(' ')] : command;
    let failures = 0;
    for (;;) {
      await sleep(interval);
      if (state.lastStatus !== 'RUNNING' || task.desiredStatus === 'STOPPED') return;
      const ok = await this.options.podman.run(['exec', state.container, ...exec], { quiet: true }).then(
        () => true,
        () => false,
      );
      if (ok) {
        failures = 0;
        if (state.health !== 'HEALTHY') task.timeline[`${definition.Name}Healthy`] = Date.now();
        state.health = 'HEALTHY';
      } else if (Date.now() >= startPeriodEnd && ++failures >= (check.Retries ?? 3)) {
        state.health = 'UNHEALTHY';
      }
    }
  }

  async stopTask(task: Task, stopCode: string, reason: string): Promise<void> {
    if (task.desiredStatus === 'STOPPED' && task.lastStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stopCode ??= stopCode;
    task.stoppedReason ??= reason;
    task.lastStatus = 'DEACTIVATING';
    this.options.log(`ECS double: stopping task ${task.id.slice(0, 12)} (${stopCode}: ${reason})`);
    // What CloudWatch Logs would keep of the task: each container's output, in the work dir.
    for (const state of task.containers.values()) {
      const logs = await this.options.podman.run(['logs', state.container]).catch(() => '');
      if (logs)
        fs.writeFileSync(
          path.join(this.options.workDir, `task-${task.id.slice(0, 12)}-${state.name}.log`),
          logs,
        );
    }
    await this.options.podman.run(['pod', 'rm', '-f', '-t', '5', task.pod]).catch(() => undefined);
    for (const state of task.containers.values())
      if (state.lastStatus !== 'STOPPED') state.lastStatus = 'STOPPED';
    task.lastStatus = 'STOPPED';
    task.stoppedAt = Date.now();
  }

  private describe(task: Task, includeTags: boolean): Record<string, unknown> {
    const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    const stopped = task.lastStatus === 'STOPPED';
    return {
      taskArn: task.arn,
      clusterArn: `arn:aws:ecs:${this.options.region}:${ACCOUNT}:cluster/${task.cluster}`,
      taskDefinitionArn: task.definitionArn,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      launchType: 'FARGATE',
      startedBy: task.startedBy,
      createdAt: seconds(task.createdAt),
      startedAt: seconds(task.startedAt),
      stoppedAt: seconds(task.stoppedAt),
      stopCode: task.stopCode,
      stoppedReason: task.stoppedReason,
      healthStatus: [...task.containers.values()].some((c) => c.health === 'UNHEALTHY')
        ? 'UNHEALTHY'
        : 'UNKNOWN',
      tags: includeTags ? task.tags : undefined,
      attachments:
        task.ip && !stopped
          ? [
              {
                type: 'ElasticNetworkInterface',
                status: 'ATTACHED',
                details: [{ name: 'privateIPv4Address', value: task.ip }],
              },
            ]
          : [],
      containers: [...task.containers.values()].map((c) => ({
        name: c.name,
        lastStatus: c.lastStatus,
        exitCode: c.exitCode,
        healthStatus: c.health,
        networkInterfaces: task.ip ? [{ privateIpv4Address: task.ip }] : [],
      })),
    };
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    for (const task of this.tasks.values()) await this.stopTask(task, 'UserInitiated', 'rehearsal finished');
  }
}

function envArgs(env: Record<string, string>): string[] {
  return Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`]);
}
