import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EcsSandboxLauncher } from '../../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings, type SandboxCapacity } from '../../../platform/src/sandbox/ecs/settings';
import type { SandboxLaunchSpec } from '../../../platform/src/sandbox/launcher';

const ecsMock = mockClient(ECSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/lap';
const TASK_ARN = 'arn:aws:ecs:eu-west-1:123456789012:task/lap/0123456789abcdef';
const CAPACITY_ERROR =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';
const sleeps: number[] = [];

function throttlingError(): Error {
  return Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });
}

function launcherWith(capacity: SandboxCapacity) {
  return new EcsSandboxLauncher({
    ecs: new ECSClient({ region: 'eu-west-1' }),
    logs: new CloudWatchLogsClient({ region: 'eu-west-1' }),
    settings: parseEcsSandboxSettings({
      SANDBOX_CLUSTER_ARN: CLUSTER,
      SANDBOX_SUBNET_IDS: 'subnet-0a1, subnet-0b2',
      SANDBOX_SECURITY_GROUP_ID: 'sg-0c3',
      SANDBOX_TASK_DEFINITIONS: '{"opencode":"lap-prod-sandbox-opencode"}',
      SANDBOX_CAPACITY: capacity,
      SANDBOX_ENVIRONMENT: 'prod',
    }),
    retry: {
      maxAttempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
    },
    log: () => undefined,
  });
}

const spec: SandboxLaunchSpec = {
  sandboxId: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
  kind: 'session',
  agentId: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
  harnessId: 'opencode',
  harnessImage: null,
  harnessEnv: {
    SANDBOX_ID: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
    HARNESS_TOKEN: 'hmac-derived',
    OPENAI_API_KEY: 'stub_openai_api_key_5c2e91',
  },
  vaultEnv: { VAULT_ADMIN_TOKEN: 'one-time', VAULT_ENV_FILE: '/run/lap/env' },
};

beforeEach(() => {
  ecsMock.reset();
  logsMock.reset();
  sleeps.length = 0;
});

test('RunTask carries the template family, tags, private networking and the container env overrides', async () => {
  ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] });
  await expect(launcherWith('on-demand').launch(spec)).resolves.toEqual({ ref: TASK_ARN });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, {
    cluster: CLUSTER,
    taskDefinition: 'lap-prod-sandbox-opencode',
    count: 1,
    launchType: 'FARGATE',
    clientToken: `${spec.sandboxId}-on-demand`,
    startedBy: 'lap/prod',
    enableECSManagedTags: true,
    tags: [
      { key: 'lap:sandbox-id', value: spec.sandboxId },
      { key: 'lap:kind', value: 'session' },
      { key: 'lap:agent-id', value: spec.agentId },
      { key: 'lap:environment', value: 'prod' },
    ],
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: ['subnet-0a1', 'subnet-0b2'],
        securityGroups: ['sg-0c3'],
        assignPublicIp: 'DISABLED',
      },
    },
    overrides: {
      containerOverrides: [
        {
          name: 'harness',
          environment: [
            { name: 'SANDBOX_ID', value: spec.sandboxId },
            { name: 'HARNESS_TOKEN', value: 'hmac-derived' },
            { name: 'OPENAI_API_KEY', value: 'stub_openai_api_key_5c2e91' },
          ],
        },
        {
          name: 'vault',
          environment: [
            { name: 'VAULT_ADMIN_TOKEN', value: 'one-time' },
            { name: 'VAULT_ENV_FILE', value: '/run/lap/env' },
          ],
        },
      ],
    },
  });
  const input = ecsMock.commandCalls(RunTaskCommand)[0].args[0].input;
  expect(input.capacityProviderStrategy).toBeUndefined();
});

test('spot-with-fallback asks FARGATE_SPOT first and retries on on-demand FARGATE after a capacity error', async () => {
  ecsMock
    .on(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })
    .resolves({ tasks: [], failures: [{ arn: CLUSTER, reason: CAPACITY_ERROR }] })
    .on(RunTaskCommand, { launchType: 'FARGATE' })
    .resolves({ tasks: [{ taskArn: TASK_ARN }] });
  await expect(launcherWith('spot-with-fallback').launch(spec)).resolves.toEqual({ ref: TASK_ARN });
  const calls = ecsMock.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
  expect(calls).toHaveLength(2);
  expect(calls[0]).toMatchObject({
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    clientToken: `${spec.sandboxId}-spot`,
  });
  expect(calls[0].launchType).toBeUndefined();
  expect(calls[1]).toMatchObject({ launchType: 'FARGATE', clientToken: `${spec.sandboxId}-on-demand` });
  expect(calls[1].capacityProviderStrategy).toBeUndefined();
});

test('spot alone does not fall back, and the failure says what to do', async () => {
  ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: CAPACITY_ERROR }] });
  await expect(launcherWith('spot').launch(spec)).rejects.toMatchObject({
    failure: { code: 'capacity_unavailable', message: expect.stringContaining('SANDBOX_CAPACITY=on-demand') },
  });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
});

test.each([
  ['InsufficientFreeAddressesInSubnet: no free addresses in subnet-0a1', 'subnet_ip_exhausted'],
  ["You've reached the limit on the number of vCPUs you can run concurrently", 'vcpu_quota_exceeded'],
  ['CannotPullContainerError: pull image manifest has been retried 1 time(s)', 'image_pull_failed'],
  ['MISSING', 'launch_failed'],
])('RunTask failure "%s" is classified as %s without a capacity retry', async (reason, code) => {
  ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason }] });
  await expect(launcherWith('spot-with-fallback').launch(spec)).rejects.toMatchObject({
    name: 'SandboxLaunchError',
    failure: { code, message: expect.stringContaining(reason) },
  });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
});

test('throttled RunTask calls are retried with growing jittered delays, then succeed', async () => {
  const throttled = throttlingError();
  ecsMock
    .on(RunTaskCommand)
    .rejectsOnce(throttled)
    .rejectsOnce(throttled)
    .resolves({ tasks: [{ taskArn: TASK_ARN }] });
  await expect(launcherWith('on-demand').launch(spec)).resolves.toEqual({ ref: TASK_ARN });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 3);
  // random() = 0.5 of min(cap, base * 2^attempt)
  expect(sleeps).toEqual([50, 100]);
  // Same idempotency token on every retry: a request that did land is not run twice.
  const tokens = new Set(ecsMock.commandCalls(RunTaskCommand).map((c) => c.args[0].input.clientToken));
  expect(tokens.size).toBe(1);
});

test('throttling past the retry budget fails the launch as launch_failed', async () => {
  ecsMock.on(RunTaskCommand).rejects(throttlingError());
  await expect(launcherWith('on-demand').launch(spec)).rejects.toMatchObject({
    failure: { code: 'launch_failed' },
  });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 4);
});

test('a real secret name in the overrides or an environment over 8 KiB is refused before calling ECS', async () => {
  const launcher = launcherWith('on-demand');
  await expect(
    launcher.launch({ ...spec, vaultEnv: { REAL_LITELLM_API_KEY: 'sk-real' } }),
  ).rejects.toMatchObject({
    failure: { message: expect.stringContaining('vaultEnv.REAL_LITELLM_API_KEY') },
  });
  await expect(
    launcher.launch({ ...spec, harnessEnv: { AGENT_PROMPT: 'x'.repeat(9000) } }),
  ).rejects.toMatchObject({ failure: { message: expect.stringContaining('8192-byte override limit') } });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 0);
});

test('a pinned image whose task definition cannot be registered fails the launch clearly', async () => {
  ecsMock.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => {
    if (input.taskDefinition === 'lap-prod-sandbox-opencode') {
      return {
        taskDefinition: { family: 'lap-prod-sandbox-opencode', containerDefinitions: [{ name: 'harness' }] },
      };
    }
    throw Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
  });
  ecsMock.on(RegisterTaskDefinitionCommand).rejects(
    Object.assign(new Error('User is not authorized to perform: ecs:RegisterTaskDefinition'), {
      name: 'AccessDeniedException',
    }),
  );
  await expect(
    launcherWith('on-demand').launch({ ...spec, harnessImage: 'ghcr.io/acme/h:1' }),
  ).rejects.toMatchObject({
    name: 'SandboxLaunchError',
    failure: {
      code: 'launch_failed',
      message: expect.stringContaining('harness_image ghcr.io/acme/h:1: User is not authorized'),
    },
  });
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input).toMatchObject({
    family: expect.stringMatching(/^lap-prod-sandbox-opencode-pin-[0-9a-f]{16}$/),
    containerDefinitions: [{ name: 'harness', image: 'ghcr.io/acme/h:1' }],
    tags: [
      { key: 'lap:environment', value: 'prod' },
      { key: 'lap:template', value: 'lap-prod-sandbox-opencode' },
    ],
  });
});

test('describe maps a task stopped by an image pull failure to image_pull_failed with the reason', async () => {
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [
      {
        taskArn: TASK_ARN,
        lastStatus: 'STOPPED',
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'CannotPullContainerError: ref pull has been retried 5 time(s): not found',
        containers: [{ name: 'harness', reason: 'CannotPullContainerError: not found' }],
        tags: [
          { key: 'lap:sandbox-id', value: spec.sandboxId },
          { key: 'Name', value: 'ignored' },
        ],
      },
    ],
  });
  const state = await launcherWith('on-demand').describe(TASK_ARN);
  expect(state).toMatchObject({
    lifecycle: 'stopped',
    harnessUrl: null,
    tags: { 'lap:sandbox-id': spec.sandboxId },
    failure: { code: 'image_pull_failed' },
  });
  expect(state!.stopReason).toContain('CannotPullContainerError');
  expect(ecsMock).toHaveReceivedCommandWith(DescribeTasksCommand, {
    cluster: CLUSTER,
    tasks: [TASK_ARN],
    include: ['TAGS'],
  });
});

test('describe reports an essential container exit with its exit code', async () => {
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [
      {
        taskArn: TASK_ARN,
        lastStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [
          { name: 'harness', exitCode: 137 },
          { name: 'vault', exitCode: 0 },
        ],
      },
    ],
  });
  const state = await launcherWith('on-demand').describe(TASK_ARN);
  expect(state!.failure).toEqual({
    code: 'essential_container_exited',
    message: expect.stringContaining('harness exited with code 137'),
  });
});

test('a running task gets its URLs from the ENI attachment; a stop we asked for is no failure', async () => {
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [
      {
        taskArn: TASK_ARN,
        lastStatus: 'RUNNING',
        attachments: [
          { type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: '10.4.7.9' }] },
        ],
      },
    ],
  });
  const launcher = launcherWith('on-demand');
  expect(await launcher.describe(TASK_ARN)).toMatchObject({
    lifecycle: 'running',
    harnessUrl: 'http://10.4.7.9:4096',
    vaultAdminUrl: 'https://10.4.7.9:14323',
    failure: null,
  });
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [
      { taskArn: TASK_ARN, lastStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'idle for 24h' },
    ],
  });
  expect(await launcher.describe(TASK_ARN)).toMatchObject({
    lifecycle: 'stopped',
    stopReason: 'idle for 24h',
    failure: null,
  });
});

test('stop sends the reason and treats an unknown task as already stopped', async () => {
  ecsMock.on(StopTaskCommand).resolvesOnce({}).rejects(new Error('The referenced task was not found.'));
  const launcher = launcherWith('on-demand');
  await launcher.stop(TASK_ARN, 'session idle past idle_timeout_ms');
  await expect(launcher.stop(TASK_ARN, 'again')).resolves.toBeUndefined();
  expect(ecsMock.commandCalls(StopTaskCommand)[0].args[0].input).toEqual({
    cluster: CLUSTER,
    task: TASK_ARN,
    reason: 'session idle past idle_timeout_ms',
  });
});

test('listByTags pages through our tasks and describes them in batches of 100', async () => {
  const arns = Array.from({ length: 150 }, (_, i) => `${TASK_ARN}${i}`);
  ecsMock
    .on(ListTasksCommand)
    .resolvesOnce({ taskArns: arns.slice(0, 100), nextToken: 'page2' })
    .resolvesOnce({ taskArns: arns.slice(100) });
  ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
    tasks: input.tasks.map((taskArn, i) => ({
      taskArn,
      lastStatus: 'RUNNING',
      tags: [{ key: 'lap:kind', value: i % 2 === 0 ? 'warm' : 'session' }],
    })),
  }));
  const warm = await launcherWith('on-demand').listByTags({ 'lap:kind': 'warm' });
  expect(warm).toHaveLength(75);
  expect(ecsMock).toHaveReceivedCommandWith(ListTasksCommand, {
    cluster: CLUSTER,
    startedBy: 'lap/prod',
    desiredStatus: 'RUNNING',
  });
  expect(ecsMock).toHaveReceivedCommandTimes(ListTasksCommand, 2);
  expect(ecsMock).toHaveReceivedCommandTimes(DescribeTasksCommand, 2);
});

test('listByTags retries a throttled page and asks for the same page again', async () => {
  ecsMock
    .on(ListTasksCommand)
    .resolvesOnce({ taskArns: [`${TASK_ARN}a`], nextToken: 'page2' })
    .rejectsOnce(throttlingError())
    .resolvesOnce({ taskArns: [`${TASK_ARN}b`] });
  ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
    tasks: input.tasks.map((taskArn) => ({ taskArn, lastStatus: 'RUNNING', tags: [] })),
  }));
  const all = await launcherWith('on-demand').listByTags({});
  expect(all.map((s) => s.ref)).toEqual([`${TASK_ARN}a`, `${TASK_ARN}b`]);
  expect(ecsMock).toHaveReceivedNthCommandWith(3, ListTasksCommand, { nextToken: 'page2' });
  expect(sleeps).toHaveLength(1);
});

test('recentLogs merges both containers streams newest-last, from the task definition log settings', async () => {
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [
      { taskArn: TASK_ARN, lastStatus: 'RUNNING', taskDefinitionArn: 'arn:td/lap-prod-sandbox-opencode:3' },
    ],
  });
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: {
      containerDefinitions: ['harness', 'vault'].map((name) => ({
        name,
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': '/lap/prod/sandboxes', 'awslogs-stream-prefix': 'sandbox' },
        },
      })),
    },
  });
  logsMock
    .on(GetLogEventsCommand, { logStreamName: 'sandbox/harness/0123456789abcdef' })
    .resolves({
      events: [
        { timestamp: 1, message: 'cloning' },
        { timestamp: 3, message: 'listening' },
      ],
    })
    .on(GetLogEventsCommand, { logStreamName: 'sandbox/vault/0123456789abcdef' })
    .resolves({ events: [{ timestamp: 2, message: 'stubs minted' }] });
  const lines = await launcherWith('on-demand').recentLogs(TASK_ARN, 2);
  expect(lines).toEqual(['[vault] stubs minted', '[harness] listening']);
  expect(logsMock).toHaveReceivedCommandWith(GetLogEventsCommand, {
    logGroupName: '/lap/prod/sandboxes',
    startFromHead: false,
    limit: 2,
  });
});
