/**
 * The image's commands as local processes: `main.ts` by role (healthz, auth, SIGTERM
 * drain, one config error listing every problem) and `migrate-cli.ts`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createCertificateAuthority } from '../../../sandbox/vault/src/ca';
import { freeLoopbackPort } from '../../../platform/src/sandbox/local/free-port';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

const ROOT = path.resolve(__dirname, '../../..');

function run(file: string, env: Record<string, string>) {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function waitHealthy(port: number): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('not healthy');
}

describe('service entry and migrate command', () => {
  let database: TestDatabase;
  const ca = createCertificateAuthority();

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    await database.drop();
  });

  it('migrate-cli applies the migrations once, and explains a missing database setting', async () => {
    const first = run('platform/src/db/migrate-cli.ts', { DATABASE_URL: database.url, DB_SSL: 'disable' });
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"migrations done","applied":\["001_init.sql"/);
    const again = run('platform/src/db/migrate-cli.ts', { DATABASE_URL: database.url, DB_SSL: 'disable' });
    expect(await again.exited).toBe(0);
    expect(again.output()).toMatch(/"applied":\[\]/);
    const missing = run('platform/src/db/migrate-cli.ts', { DB_HOST: 'h' });
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toMatch(/missing: DB_NAME, DB_USER, DB_PASSWORD/);
  });

  it('exits 1 with one message listing every configuration problem', async () => {
    const bad = run('platform/src/main.ts', { PORT: 'x', SECRET_STORE: 'vault' });
    expect(await bad.exited).toBe(1);
    const out = bad.output();
    expect(out).toMatch(/^invalid platform configuration \(\d+ problems\):/);
    for (const key of [
      'PORT',
      'SECRET_STORE',
      'DATABASE_URL',
      'MASTER_KEY',
      'HARNESS_TOKEN_SIGNING_KEY',
      'CALLBACK_URL',
    ])
      expect(out).toContain(`  - ${key} `);
  });

  /** What every role needs: the database (plain TCP to the test's), keys, the gateway. */
  const serviceBasics = () => ({
    DATABASE_URL: database.url,
    DB_SSL: 'disable',
    MASTER_KEY: 'service-master-key',
    HARNESS_TOKEN_SIGNING_KEY: 'x'.repeat(32),
    ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
    LITELLM_API_BASE: 'http://127.0.0.1:9',
  });

  it("role web needs the workers' internal URL, not the launch settings", async () => {
    const bad = run('platform/src/main.ts', {
      PLATFORM_ROLE: 'web',
      ...serviceBasics(),
    });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('  - WORKER_INTERNAL_URL is required with PLATFORM_ROLE=web');
    expect(bad.output()).not.toContain('CALLBACK_URL');
    expect(bad.output()).not.toContain('VAULT_CA_CERT');
  });

  it.each(['all', 'worker', 'web'])('role %s: healthy, then drains and exits 0 on SIGTERM', async (role) => {
    const port = await freeLoopbackPort();
    const internalPort = await freeLoopbackPort();
    const svc = run('platform/src/main.ts', {
      PLATFORM_ROLE: role,
      PORT: String(port),
      INTERNAL_PORT: String(internalPort),
      WORKER_INTERNAL_URL: `http://127.0.0.1:${internalPort}`,
      ...serviceBasics(),
      CALLBACK_URL: `http://127.0.0.1:${internalPort}`,
      VAULT_CA_CERT: ca.certPem,
      LAP_DATA_DIR: path.join(ROOT, '.lap-test-unused'),
    });
    try {
      await waitHealthy(port);
      const agents = await fetch(`http://127.0.0.1:${port}/api/v1/managed_agents/agents`, {
        headers: { authorization: 'Bearer service-master-key' },
      });
      expect(agents.status).toBe(role === 'worker' ? 404 : 200);
      // The sandbox callbacks: on the internal port of the roles that launch, never on the public one.
      const spec = '/api/v1/internal/sandboxes/11111111-1111-4111-8111-111111111111/spec';
      expect((await fetch(`http://127.0.0.1:${port}${spec}`)).status).toBe(404);
      const internal = await fetch(`http://127.0.0.1:${internalPort}${spec}`).catch(() => null);
      expect(internal?.status ?? 'no listener').toBe(role === 'web' ? 'no listener' : 401);
    } finally {
      svc.child.kill('SIGTERM');
    }
    expect(await svc.exited).toBe(0);
    expect(svc.output()).toMatch(/"msg":"draining"/);
    expect(svc.output()).toMatch(/"msg":"stopped"/);
    expect(svc.output()).not.toContain('service-master-key');
  });
});
