/**
 * Simulation: 1,000 sessions created in one burst against an ECS that throttles,
 * refuses Spot capacity (and, rarely, on-demand capacity), and loses responses
 * after starting a task. The real EcsSandboxLauncher and the runtime's bring-up
 * steps run against it (aws-sdk-client-mock behind the real client), with sessions
 * in the real PostgreSQL. 3% of bring-ups "crash" right after launch (the session is
 * deleted and nobody stops its task); the idle reaper's orphan sweep must find those.
 * In the end every session is ready or failed with a clear reason (or dead when
 * deleted), and no task is leaked.
 */
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import pino from 'pino';
import type pg from 'pg';
import { recordSandbox } from '../../../platform/src/db/sessions';
import { failSession, markDead, markReady } from '../../../platform/src/lifecycle/session-states';
import { runIdleReaper } from '../../../platform/src/reaper/reaper';
import { awaitSandboxRunning, launchSandbox } from '../../../platform/src/sandbox/bring-up';
import { EcsSandboxLauncher } from '../../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../../platform/src/sandbox/ecs/settings';
import { EcsDouble } from './support/ecs-double';
import { openSeededDatabase, type Seed, type SeededDatabase } from './support/seed';

const SESSIONS = 1000;
const ecsMock = mockClient(ECSClient);
let database: SeededDatabase;
let pool: pg.Pool;
let seed: Seed;

beforeAll(async () => {
  database = await openSeededDatabase(10);
  ({ pool, seed } = database);
});

afterAll(async () => {
  ecsMock.restore();
  await database?.close();
});

/** A seeded generator, so a failing run can be replayed. */
function mulberry32(seedValue: number): () => number {
  let a = seedValue;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('1,000 sessions in a burst: each ends ready or failed with a reason, and no task leaks', async () => {
  const random = mulberry32(20261122);
  const ecs = new EcsDouble({
    throttleRate: 0.35,
    spotCapacityErrorRate: 0.6,
    onDemandCapacityErrorRate: 0.03,
    lostResponseRate: 0.04,
    random,
  });
  ecsMock.on(RunTaskCommand).callsFake((input) => ecs.runTask(input));
  ecsMock.on(DescribeTasksCommand).callsFake((input) => ecs.describeTasks(input));
  ecsMock.on(ListTasksCommand).callsFake((input) => ecs.listTasks(input));
  ecsMock.on(StopTaskCommand).callsFake((input) => ecs.stopTask(input));
  const launcher = new EcsSandboxLauncher({
    ecs: new ECSClient({ region: 'eu-west-1' }),
    settings: parseEcsSandboxSettings({
      SANDBOX_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:123456789012:cluster/lap',
      SANDBOX_SUBNET_IDS: 'subnet-0a,subnet-0b,subnet-0c',
      SANDBOX_SECURITY_GROUP_ID: 'sg-0d',
      SANDBOX_TASK_DEFINITIONS: '{"opencode":"lap-sandbox-opencode"}',
      SANDBOX_CAPACITY: 'spot-with-fallback',
      SANDBOX_ENVIRONMENT: 'sim',
    }),
    retry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 400 },
    log: () => undefined,
  });

  const agents = [await seed.agent(), await seed.agent(), await seed.agent()];
  const ids: string[] = [];
  for (let i = 0; i < SESSIONS; i++) ids.push(await seed.session(agents[i % 3]!, { status: 'creating' }));
  const crashes = new Set(ids.filter(() => random() < 0.03));

  // The burst: every bring-up at once, as the worker fleet would run them.
  await Promise.all(
    ids.map(async (id, i) => {
      try {
        const launched = await launchSandbox(launcher, {
          sandboxId: id,
          kind: 'session',
          agent: { id: agents[i % 3]!, harness_id: 'opencode', harness_image: null },
          signingKey: 'simulation-signing-key',
          callbackUrl: 'http://platform.internal:3000',
        });
        if (crashes.has(id)) {
          // The process died here: its ARN was never recorded and nothing stops the task.
          await markDead(pool, id, 'deleted while its bring-up crashed');
          return;
        }
        await recordSandbox(pool, id, { ref: launched.ref });
        const running = await awaitSandboxRunning(launcher, launched.ref, {
          deadline: Date.now() + 120_000,
          pollMs: 20,
        });
        await recordSandbox(pool, id, {
          ref: launched.ref,
          sandboxUrl: running.harnessUrl,
          vaultAdminUrl: running.vaultAdminUrl,
        });
        await markReady(pool, id, { sandboxUrl: running.harnessUrl, ttyUrl: null, harnessSessionId: null });
      } catch (err) {
        await failSession(pool, id, (err as Error).message);
      }
    }),
  );

  // The idle reaper's next run sweeps orphans.
  const reaped = await runIdleReaper({
    db: pool,
    launcher,
    log: pino({ level: 'silent' }),
    environment: 'sim',
    creatingTimeoutMs: 600_000,
  });

  const { rows } = await seed.client.query<{
    id: string;
    status: string;
    failure_reason: string | null;
    sandbox_ref: string | null;
  }>(`SELECT id, status, failure_reason, sandbox_ref FROM sessions`);
  const byStatus = (s: string) => rows.filter((r) => r.status === s);
  expect(byStatus('creating')).toHaveLength(0);
  // A crash only happens after a successful launch; a crash-marked session whose launch failed is just failed.
  const dead = byStatus('dead').map((r) => r.id);
  expect(dead.every((id) => crashes.has(id))).toBe(true);
  expect(dead.length).toBeGreaterThan(0);
  // Every failure names one of the faults the double injects: capacity, throttling, or a
  // connection that kept breaking after the retries ran out.
  for (const failed of byStatus('failed')) {
    expect(failed.failure_reason).toMatch(/Fargate has no capacity|Rate exceeded|socket hang up/);
  }
  expect(byStatus('ready').length + byStatus('failed').length + dead.length).toBe(SESSIONS);

  // No leak: every task ECS ever started serves a ready session, or is stopped.
  const readyRefs = new Set(byStatus('ready').map((r) => r.sandbox_ref));
  const leaked = ecs.running().filter((t) => !readyRefs.has(t.taskArn!));
  expect(leaked).toEqual([]);
  expect(readyRefs.size).toBe(byStatus('ready').length);
  expect(ecs.running()).toHaveLength(byStatus('ready').length);
  // One task per ready session, even where a lost response made the launcher ask twice.
  expect(
    new Set([...ecs.tasks.values()].map((t) => t.tags!.find((x) => x.key === 'lap:sandbox-id')!.value)).size,
  ).toBe(ecs.tasks.size);

  // The double really was hostile.
  expect(ecs.throttled).toBeGreaterThan(500);
  // The crashed bring-ups' tasks, plus any task whose launch answer was lost until the retries ran out
  // (its session failed): the orphan sweep stopped them all (checked by the leak assertion above).
  expect(reaped.orphanTasks).toBeGreaterThanOrEqual(dead.length);
  expect(byStatus('ready').length).toBeGreaterThan(800);
  expect(byStatus('failed').some((r) => /Fargate has no capacity/.test(r.failure_reason!))).toBe(true);
  console.log(
    JSON.stringify({
      simulation: 'burst',
      sessions: SESSIONS,
      ready: byStatus('ready').length,
      failed: byStatus('failed').length,
      crashed_and_reaped: reaped.orphanTasks,
      run_task_calls: ecs.runTaskCalls,
      throttled_calls: ecs.throttled,
      tasks_started: ecs.tasks.size,
      leaked: leaked.length,
    }),
  );
}, 180_000);
