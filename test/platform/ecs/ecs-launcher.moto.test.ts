import { DescribeTasksCommand, ECSClient, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { EcsSandboxLauncher } from '../../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../../platform/src/sandbox/ecs/settings';
import type { SandboxLaunchSpec } from '../../../platform/src/sandbox/launcher';
import { createMotoSandboxCluster, startMotoServer, type MotoServer } from './support/moto-server';

let moto: MotoServer;
let ecs: ECSClient;
let launcher: EcsSandboxLauncher;
let clusterArn: string;

const AGENT_SECRET = 'ghp_real_agent_token_value_1234567890';

function spec(overrides: Partial<SandboxLaunchSpec> = {}): SandboxLaunchSpec {
  return {
    sandboxId: crypto.randomUUID(),
    kind: 'session',
    agentId: 'a6a3f0a2-6f5e-4d1f-9a39-2a3e0c1b2d3e',
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: { SANDBOX_ID: 'x', HARNESS_TOKEN: 'derived-token', GITHUB_TOKEN: 'stub_github_token_a8f1c2' },
    vaultEnv: { VAULT_ADMIN_TOKEN: 'one-time-admin-token', VAULT_PORT: '14322' },
    ...overrides,
  };
}

beforeAll(async () => {
  moto = await startMotoServer();
  ecs = new ECSClient(moto.clientConfig);
  const sandboxes = await createMotoSandboxCluster(moto, 'lap-sandboxes');
  clusterArn = sandboxes.clusterArn;
  launcher = new EcsSandboxLauncher({
    ecs,
    settings: parseEcsSandboxSettings({
      SANDBOX_CLUSTER_ARN: clusterArn,
      SANDBOX_SUBNET_IDS: sandboxes.subnetId,
      SANDBOX_SECURITY_GROUP_ID: sandboxes.securityGroupId,
      SANDBOX_TASK_DEFINITIONS: JSON.stringify({ opencode: sandboxes.family }),
      // moto places tasks only with launchType FARGATE, which is what on-demand uses.
      SANDBOX_CAPACITY: 'on-demand',
      SANDBOX_ENVIRONMENT: 'test',
    }),
    log: () => undefined,
  });
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

test('launch starts a tagged Fargate task whose private IP becomes the harness and vault admin URLs', async () => {
  const s = spec();
  const { ref } = await launcher.launch(s);
  expect(ref).toMatch(/^arn:aws:ecs:us-east-1:\d+:task\//);

  const state = await launcher.describe(ref);
  expect(state).not.toBeNull();
  expect(state!.lifecycle).toBe('running');
  expect(state!.tags).toEqual({
    'lap:sandbox-id': s.sandboxId,
    'lap:kind': 'session',
    'lap:agent-id': s.agentId,
    'lap:environment': 'test',
  });
  expect(state!.harnessUrl).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:4096$/);
  expect(state!.vaultAdminUrl).toBe(
    state!.harnessUrl!.replace('http://', 'https://').replace(':4096', ':14323'),
  );

  // What ECS stored for the task: the overrides hold the stubs and tokens only.
  const raw = await ecs.send(new DescribeTasksCommand({ cluster: clusterArn, tasks: [ref] }));
  const stored = JSON.stringify(raw.tasks![0]);
  expect(stored).toContain('stub_github_token_a8f1c2');
  expect(stored).not.toContain(AGENT_SECRET);
});

test('listByTags finds running sandboxes by tag and stop() ends them with the reason', async () => {
  const warm = spec({ kind: 'warm' });
  const { ref } = await launcher.launch(warm);
  const warmOnes = await launcher.listByTags({ 'lap:kind': 'warm', 'lap:environment': 'test' });
  expect(warmOnes.map((s) => s.ref)).toContain(ref);
  expect(warmOnes.every((s) => s.tags['lap:kind'] === 'warm')).toBe(true);
  const bySandbox = await launcher.listByTags({ 'lap:sandbox-id': warm.sandboxId });
  expect(bySandbox.map((s) => s.ref)).toEqual([ref]);

  await launcher.stop(ref, 'warm sandbox expired');
  const stopped = await launcher.describe(ref);
  expect(stopped!.lifecycle).toBe('stopped');
  expect(stopped!.stopReason).toContain('warm sandbox expired');
  expect(stopped!.harnessUrl).toBeNull();
  expect((await launcher.listByTags({ 'lap:sandbox-id': warm.sandboxId })).map((s) => s.ref)).toEqual([]);
});

test('describe of an unknown task is null', async () => {
  expect(await launcher.describe(`${clusterArn.replace(':cluster/', ':task/')}/0000000000000000`)).toBeNull();
});

test('an agent pinning harness_image gets its own task definition family, registered once per image', async () => {
  const image = 'ghcr.io/acme/custom-harness:2.1';
  const first = await launcher.launch(spec({ harnessImage: image }));
  const second = await launcher.launch(spec({ harnessImage: image }));
  const [a, b] = (
    await ecs.send(new DescribeTasksCommand({ cluster: clusterArn, tasks: [first.ref, second.ref] }))
  ).tasks!;
  expect(a.taskDefinitionArn).toMatch(/:task-definition\/lap-sandbox-opencode-pin-[0-9a-f]{16}:1$/);
  expect(b.taskDefinitionArn).toBe(a.taskDefinitionArn);
  const pinnedArns = async () =>
    ((await ecs.send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? []).filter((arn) =>
      arn.includes('/lap-sandbox-opencode-pin-'),
    );
  expect(await pinnedArns()).toHaveLength(1);
  // The template family itself is untouched, so other agents keep the default image.
  const all = (await ecs.send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? [];
  expect(all.filter((arn) => /lap-sandbox-opencode:\d+$/.test(arn))).toHaveLength(1);

  // A second launcher (another process) finds the registered family instead of adding a revision.
  const other = new EcsSandboxLauncher({
    ecs,
    settings: (launcher as unknown as { settings: never }).settings,
    log: () => undefined,
  });
  await other.launch(spec({ harnessImage: image }));
  expect(await pinnedArns()).toHaveLength(1);
});

test('a harness without a task definition fails with a message naming the setting', async () => {
  await expect(launcher.launch(spec({ harnessId: 'codex' }))).rejects.toMatchObject({
    name: 'SandboxLaunchError',
    failure: { code: 'launch_failed', message: expect.stringContaining('SANDBOX_TASK_DEFINITIONS') },
  });
});
