import pino from 'pino';
import type pg from 'pg';
import { getWarmSandbox, markWarmSandboxDead } from '../../../platform/src/db/warm-pool';
import { SandboxLaunchError, type SandboxLaunchSpec } from '../../../platform/src/sandbox/launcher';
import { warmPoolJobHandlers } from '../../../platform/src/bring-up/jobs';
import type { JobRow } from '../../../platform/src/db/jobs';
import { MemoryLauncher } from './support/memory-launcher';
import { openSeededDatabase, type Seed, type SeededDatabase } from './support/seed';

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

function deps(launcher: MemoryLauncher): Parameters<typeof warmPoolJobHandlers>[0] {
  return {
    db: pool,
    launcher,
    buildVaultPush: async () => ({ secrets: {}, allow_out: [], deny_out: [] }),
    log: pino({ level: 'silent' }),
    warmPool: { size: 2, recentAgentHours: 24, maxProvisioning: 2, ttlMinutes: 30 },
    settings: {
      signingKey: 'warm-test-signing-key-0123456789',
      callbackUrl: 'http://127.0.0.1:9',
      vaultCaCertPem: '',
      creatingTimeoutMs: 60_000,
      pollMs: 10,
    },
  };
}
const ctx = { signal: new AbortController().signal, workerId: 'test' };

/** Runs the `warm_bring_up` job of one warm row, as the worker would. */
function bringUpWarmSandbox(d: ReturnType<typeof deps>, id: string, context: typeof ctx): Promise<void> {
  return warmPoolJobHandlers(d).warm_bring_up.run(
    { payload: { warm_sandbox_id: id } } as unknown as JobRow,
    context,
  );
}

test('a launch refused by the capacity ends the warm row with the classified reason', async () => {
  const launcher = new MemoryLauncher();
  launcher.launch = async () => {
    throw new SandboxLaunchError({
      code: 'capacity_unavailable',
      message: 'Fargate has no capacity for the sandbox',
    });
  };
  const agent = await seed.agent();
  const id = await seed.warm(agent, { status: 'provisioning' });
  await bringUpWarmSandbox(deps(launcher), id, ctx);
  expect(await getWarmSandbox(pool, id)).toMatchObject({
    status: 'dead',
    failure_reason: 'Fargate has no capacity for the sandbox',
  });
});

test('launches with the warm id, kind warm and the tokens derived from it; a row recycled meanwhile stops the task', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const id = await seed.warm(agent, { status: 'provisioning' });
  let launched: SandboxLaunchSpec | null = null;
  const realLaunch = launcher.launch.bind(launcher);
  launcher.launch = async (spec) => {
    launched = spec;
    await markWarmSandboxDead(pool, id, 'expired: warm sandbox TTL reached');
    return realLaunch(spec);
  };
  await bringUpWarmSandbox(deps(launcher), id, ctx);
  expect(launched).toMatchObject({ sandboxId: id, kind: 'warm', agentId: agent, harnessId: 'opencode' });
  expect(launched!.harnessEnv.SANDBOX_ID).toBe(id);
  expect(launched!.harnessEnv.HARNESS_TOKEN).toMatch(/^[0-9a-f]{64}$/);
  expect(Object.keys(launched!.vaultEnv)).toEqual(['VAULT_ADMIN_TOKEN']);
  expect(launcher.running()).toEqual([]);
  expect((await getWarmSandbox(pool, id))!.failure_reason).toBe('expired: warm sandbox TTL reached');
});

test('a resumed job (the first runner died after launching) ends the row and stops the old task', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const ref = launcher.adopt({
    'lap:sandbox-id': 'x',
    'lap:kind': 'warm',
    'lap:agent-id': agent,
    'lap:environment': 'test',
  });
  const id = await seed.warm(agent, { status: 'provisioning', sandboxRef: ref });
  await bringUpWarmSandbox(deps(launcher), id, ctx);
  expect((await getWarmSandbox(pool, id))!.status).toBe('dead');
  expect(launcher.stops.map((s) => s.ref)).toEqual([ref]);
  expect(launcher.tasks.size).toBe(1);
});

test('a row that is no longer provisioning is left alone', async () => {
  const launcher = new MemoryLauncher();
  const agent = await seed.agent();
  const id = await seed.warm(agent, { status: 'warm', sandboxRef: 'arn:already-warm' });
  await bringUpWarmSandbox(deps(launcher), id, ctx);
  expect((await getWarmSandbox(pool, id))!.status).toBe('warm');
  expect(launcher.tasks.size).toBe(0);
});
