import pino from 'pino';
import type pg from 'pg';
import { handleTaskStateChange } from '../../../platform/src/task-events/task-events';
import { openSeededDatabase, type Seed, type SeededDatabase } from './support/seed';

const log = pino({ level: 'silent' });
const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/lap-prod';
let database: SeededDatabase;
let pool: pg.Pool;
let seed: Seed;

beforeAll(async () => {
  database = await openSeededDatabase(5);
  ({ pool, seed } = database);
});

afterAll(async () => {
  await database?.close();
});

function stoppedEvent(taskArn: string, detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    source: 'aws.ecs',
    'detail-type': 'ECS Task State Change',
    region: 'eu-west-1',
    detail: {
      taskArn,
      clusterArn: CLUSTER,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stoppedAt: '2026-11-22T10:00:00.000Z',
      ...detail,
    },
  };
}

async function row(table: 'sessions' | 'warm_sandboxes', id: string) {
  const { rows } = await seed.client.query(`SELECT status, failure_reason FROM ${table} WHERE id = $1`, [id]);
  return rows[0];
}

const deps = () => ({ db: pool, log, clusterArn: CLUSTER });

test('a session still creating fails with the classified reason (image pull)', async () => {
  const agent = await seed.agent();
  const id = await seed.session(agent, { status: 'creating', sandboxRef: 'arn:task/pull' });
  const outcome = await handleTaskStateChange(
    deps(),
    stoppedEvent('arn:task/pull', {
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'CannotPullContainerError: ghcr.io/acme/harness:9: not found',
    }),
  );
  expect(outcome).toMatchObject({ action: 'handled', sessionFailed: id, sessionDead: null });
  const after = await row('sessions', id);
  expect(after.status).toBe('failed');
  expect(after.failure_reason).toMatch(/could not be pulled.*CannotPullContainerError/);
});

test('a ready session dies with the stop reason; a duplicate event changes nothing', async () => {
  const agent = await seed.agent();
  const id = await seed.session(agent, { status: 'ready', sandboxRef: 'arn:task/exit' });
  const event = stoppedEvent('arn:task/exit', {
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [{ name: 'harness', exitCode: 137 }, { name: 'vault' }],
  });
  expect(await handleTaskStateChange(deps(), event)).toMatchObject({ sessionDead: id });
  const after = await row('sessions', id);
  expect(after).toEqual({
    status: 'dead',
    failure_reason: expect.stringContaining('harness exited with code 137'),
  });
  expect(await handleTaskStateChange(deps(), event)).toMatchObject({
    sessionDead: null,
    sessionFailed: null,
  });
  expect(await row('sessions', id)).toEqual(after);
});

test('a warm sandbox task that stops ends its row; a claimed one ends with its session', async () => {
  const agent = await seed.agent();
  const warm = await seed.warm(agent, { sandboxRef: 'arn:task/warm' });
  await handleTaskStateChange(
    deps(),
    stoppedEvent('arn:task/warm', {
      stopCode: 'SpotInterruption',
      stoppedReason: 'Your Spot Task was interrupted.',
    }),
  );
  expect(await row('warm_sandboxes', warm)).toEqual({
    status: 'dead',
    failure_reason: expect.stringContaining('Fargate Spot reclaimed'),
  });

  const claimed = await seed.warm(agent, { status: 'claimed', sandboxRef: 'arn:task/claimed' });
  const session = await seed.session(agent, { status: 'ready', sandboxRef: 'arn:task/claimed' });
  const outcome = await handleTaskStateChange(
    deps(),
    stoppedEvent('arn:task/claimed', { stopCode: 'UserInitiated', stoppedReason: 'stopped in the console' }),
  );
  expect(outcome).toMatchObject({ sessionDead: session, warmDead: claimed });
  expect((await row('sessions', session)).failure_reason).toBe('sandbox stopped: stopped in the console');
});

test('a session the platform already ended keeps its own reason', async () => {
  const agent = await seed.agent();
  const id = await seed.session(agent, { status: 'dead', sandboxRef: 'arn:task/reaped' });
  await seed.client.query(`UPDATE sessions SET failure_reason = 'idle timeout' WHERE id = $1`, [id]);
  await handleTaskStateChange(
    deps(),
    stoppedEvent('arn:task/reaped', { stopCode: 'UserInitiated', stoppedReason: 'idle timeout' }),
  );
  expect(await row('sessions', id)).toEqual({ status: 'dead', failure_reason: 'idle timeout' });
});

test('events that are not STOPPED, of another cluster or malformed are ignored', async () => {
  const agent = await seed.agent();
  const id = await seed.session(agent, { status: 'ready', sandboxRef: 'arn:task/running' });
  expect(
    await handleTaskStateChange(deps(), stoppedEvent('arn:task/running', { lastStatus: 'RUNNING' })),
  ).toEqual({
    action: 'ignored',
    why: 'lastStatus RUNNING',
  });
  expect(
    await handleTaskStateChange(
      deps(),
      stoppedEvent('arn:task/running', { clusterArn: 'arn:aws:ecs:eu-west-1:1:cluster/other' }),
    ),
  ).toMatchObject({ action: 'ignored' });
  expect(await handleTaskStateChange(deps(), { source: 'aws.ec2', detail: {} })).toMatchObject({
    action: 'ignored',
  });
  expect((await row('sessions', id)).status).toBe('ready');
});
