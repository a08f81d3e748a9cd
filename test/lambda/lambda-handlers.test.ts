import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { Client } from 'pg';
import { handler as migrateHandler } from '../../lambda/migrate/index';
import { handler as reaperHandler, runReaper } from '../../lambda/idle-reaper/index';
import { handler as warmPoolHandler } from '../../lambda/warm-pool/index';
import { handler as taskEventsHandler } from '../../lambda/task-events/index';
import { EcsSandboxLauncher } from '../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../platform/src/sandbox/ecs/settings';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import {
  createMotoSandboxCluster,
  startMotoServer,
  type MotoServer,
} from '../platform/ecs/support/moto-server';
import { Seed } from '../platform/ecs/support/seed';

let moto: MotoServer;
let database: TestDatabase;
let seed: Seed;
let secretArn: string;
let clusterArn: string;
let stdout: string[] = [];
const savedEnv = { ...process.env };
/** A worker's internal listener, counting the warm pool's pokes (the functions read their env once). */
let worker: http.Server;
const pokes: string[] = [];

beforeAll(async () => {
  moto = await startMotoServer();
  database = await createTestDatabase({ migrated: false });
  const url = new URL(database.url);
  const sm = new SecretsManagerClient(moto.clientConfig);
  secretArn = (
    await sm.send(
      new CreateSecretCommand({
        Name: 'lap/test/db',
        SecretString: JSON.stringify({
          engine: 'postgres',
          username: url.username,
          password: 'rotated-away',
        }),
      }),
    )
  ).ARN!;
  // The live password: the first read above is stale, as after a rotation.
  await sm.send(
    new PutSecretValueCommand({
      SecretId: secretArn,
      SecretString: JSON.stringify({
        engine: 'postgres',
        username: url.username,
        password: decodeURIComponent(url.password),
      }),
    }),
  );

  worker = http.createServer((req, res) => {
    pokes.push(`${req.method} ${req.url}`);
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));

  const sandboxes = await createMotoSandboxCluster(moto, 'lap-lambda');
  clusterArn = sandboxes.clusterArn;

  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    DB_HOST: url.hostname,
    DB_PORT: url.port,
    DB_NAME: url.pathname.slice(1),
    DB_SECRET_ARN: secretArn,
    DB_SSL: 'disable',
    LOG_LEVEL: 'silent',
    SANDBOX_CLUSTER_ARN: clusterArn,
    SANDBOX_SUBNET_IDS: sandboxes.subnetId,
    SANDBOX_SECURITY_GROUP_ID: sandboxes.securityGroupId,
    SANDBOX_TASK_DEFINITIONS: JSON.stringify({ opencode: sandboxes.family }),
    SANDBOX_CAPACITY: 'on-demand',
    SANDBOX_ENVIRONMENT: 'lambdatest',
    MIGRATIONS_DIR: path.resolve(__dirname, '../../platform/src/db/migrations'),
    WARM_POOL_SIZE: '2',
    WORKER_INTERNAL_URL: `http://127.0.0.1:${(worker.address() as AddressInfo).port}`,
  });
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
}, 60_000);

afterAll(async () => {
  jest.restoreAllMocks();
  process.env = savedEnv;
  await seed?.close();
  await database?.drop();
  await moto?.stop();
  worker?.close();
});

beforeEach(() => {
  stdout = [];
});

/**
 * Connections to the test database other than the asking one, once closing ones are gone (a
 * server backend exits a moment after its client says goodbye): a frozen Lambda must keep none.
 */
async function openConnections(): Promise<number> {
  let open = 0;
  for (let attempt = 0; attempt < 40; attempt++) {
    const { rows } = await seed.client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    open = rows[0].n;
    if (open === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return open;
}

/** Runs `fn` with the database unreachable: a handler that touches it fails. */
async function withoutDatabase<T>(fn: () => Promise<T>): Promise<T> {
  const port = process.env.DB_PORT;
  process.env.DB_PORT = '9'; // discard: nothing listens
  try {
    return await fn();
  } finally {
    process.env.DB_PORT = port;
  }
}

/** Starts a sandbox task of `agentId` in the moto cluster; returns its task ARN. */
async function launchSandbox(agentId: string, sandboxId: string = crypto.randomUUID()): Promise<string> {
  const launcher = new EcsSandboxLauncher({
    settings: parseEcsSandboxSettings(process.env),
    log: () => undefined,
  });
  const { ref } = await launcher.launch({
    sandboxId,
    kind: 'session',
    agentId,
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {},
    vaultEnv: {},
  });
  return ref;
}

function metricsLine(name: string): Record<string, unknown> {
  const line = stdout.map((l) => l.trim()).find((l) => l.startsWith('{"_aws"') && l.includes(`"${name}"`));
  expect(line).toBeDefined();
  return JSON.parse(line!);
}

test('migrate applies the bundled migrations once; Delete keeps the schema', async () => {
  const handler = migrateHandler;
  // Every migration the platform ships, in order (the engineers' series 0xx add to it).
  const bundled = fs
    .readdirSync(path.join(__dirname, '../../platform/src/db/migrations'))
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort();
  expect(bundled.slice(0, 3)).toEqual(['001_init.sql', '010_warm_pool.sql', '020_agent_list_version.sql']);
  const first = await handler({ RequestType: 'Create' });
  expect(first.Data.applied).toBe(bundled.join(','));
  const again = await handler({ RequestType: 'Update', PhysicalResourceId: first.PhysicalResourceId });
  expect(again).toEqual({
    PhysicalResourceId: 'lap-database-schema',
    Data: { applied: '', alreadyApplied: bundled.length },
  });
  expect((await handler({ RequestType: 'Delete', PhysicalResourceId: 'x' })).PhysicalResourceId).toBe('x');
  seed = await Seed.connect(database.url);
  expect((await seed.client.query(`SELECT count(*)::int AS n FROM warm_sandboxes`)).rows[0].n).toBe(0);
});

test("idle-reaper stops an idle session's Fargate task and reports EMF metrics", async () => {
  const agent = await seed.agent();
  const idle = await seed.session(agent, { idleMinutes: 25 * 60 });
  const ref = await launchSandbox(agent, idle);
  await seed.client.query(`UPDATE sessions SET sandbox_ref = $2 WHERE id = $1`, [idle, ref]);
  const orphanRef = await launchSandbox(agent);

  const handler = reaperHandler;
  const result = await handler();
  expect(result).toMatchObject({ idleSessions: 1, orphanTasks: 1, stopFailures: 0 });
  const ecs = new ECSClient(moto.clientConfig);
  const tasks = (await ecs.send(new DescribeTasksCommand({ cluster: clusterArn, tasks: [ref, orphanRef] })))
    .tasks!;
  expect(tasks.map((t) => t.lastStatus)).toEqual(['STOPPED', 'STOPPED']);
  expect(tasks.find((t) => t.taskArn === ref)!.stoppedReason).toMatch(/^idle timeout/);
  const metrics = metricsLine('IdleSessionsReaped');
  expect(metrics).toMatchObject({ Environment: 'lambdatest', IdleSessionsReaped: 1, OrphanTasksStopped: 1 });
  expect(
    (metrics._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics[0].Namespace,
  ).toBe('LAP');

  // The pass closed its connections: Aurora can pause.
  expect(await openConnections()).toBe(0);
  // Nothing runs any more: the next run skips the database altogether.
  expect(await withoutDatabase(() => handler())).toEqual({ skipped: true, reason: 'no sandbox runs' });
});

test("idle-reaper's first run of the day sweeps the database even when no sandbox runs", async () => {
  const agent = await seed.agent();
  const stuck = await seed.session(agent, { status: 'creating', ageMinutes: 30 });
  const midnight = new Date('2026-03-01T00:03:00Z');
  const result = await runReaper(midnight);
  expect(result).toMatchObject({ skipped: false, creatingTimeouts: 1 });
  expect((await seed.client.query(`SELECT status FROM sessions WHERE id = $1`, [stuck])).rows[0].status).toBe(
    'failed',
  );
  // Any other run of the day skips while no sandbox runs.
  expect(await withoutDatabase(() => runReaper(new Date('2026-03-01T00:08:00Z')))).toMatchObject({
    skipped: true,
  });
});

test('warm-pool skips the database while no sandbox runs', async () => {
  const agent = await seed.agent();
  await seed.session(agent, { status: 'dead' });
  expect(await withoutDatabase(() => warmPoolHandler())).toEqual({ recycled: 0, planned: 0, skipped: true });
  expect(stdout.join('')).not.toMatch(/WarmSandboxesPlanned/);
  expect(pokes).toEqual([]);
});

test('warm-pool plans warm sandboxes for a recently active agent while sandboxes run, and pokes a worker', async () => {
  const agent = await seed.agent();
  await seed.session(agent, { status: 'dead' });
  await launchSandbox(agent);
  const handler = warmPoolHandler;
  expect(await handler()).toEqual({ recycled: 0, planned: 2, skipped: false });
  expect(pokes).toEqual(['POST /api/v1/internal/worker/poke']);
  expect(metricsLine('WarmSandboxesPlanned')).toMatchObject({ WarmSandboxesPlanned: 2 });
  const jobs = await seed.client.query(`SELECT count(*)::int AS n FROM jobs WHERE kind = 'warm_bring_up'`);
  expect(jobs.rows[0].n).toBe(2);
  expect(await handler()).toEqual({ recycled: 0, planned: 0, skipped: false });
  expect(await openConnections()).toBe(0);
});

test('task-events ends the session of a stopped task', async () => {
  const agent = await seed.agent();
  const id = await seed.session(agent, {
    status: 'ready',
    sandboxRef: 'arn:aws:ecs:us-east-1:1:task/lap/abc',
  });
  const handler = taskEventsHandler;
  const outcome = await handler({
    source: 'aws.ecs',
    'detail-type': 'ECS Task State Change',
    detail: {
      taskArn: 'arn:aws:ecs:us-east-1:1:task/lap/abc',
      clusterArn,
      lastStatus: 'STOPPED',
      stopCode: 'SpotInterruption',
      stoppedReason: 'Your Spot Task was interrupted.',
    },
  });
  expect(outcome).toMatchObject({ action: 'handled', sessionDead: id });
  expect(metricsLine('SessionsEndedByTaskStop')).toMatchObject({ SessionsEndedByTaskStop: 1 });
  expect(await openConnections()).toBe(0);
  const row = await new Client({ connectionString: database.url });
  await row.connect();
  expect((await row.query(`SELECT status FROM sessions WHERE id = $1`, [id])).rows[0].status).toBe('dead');
  await row.end();
});
