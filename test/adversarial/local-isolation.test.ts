/**
 * A hostile agent in real local mode (`npm run local` on Linux as root: embedded PostgreSQL,
 * the real vault and opencode harness) runs code in its sandbox and goes after everything
 * else on the machine: its own vault's environment (the real values), another sandbox's
 * vault and harness, the platform process (MASTER_KEY), local-secrets.json, the CA key,
 * PostgreSQL's data and server, another sandbox's files, and another sandbox's harness.
 * The code runs exactly as the sandbox's harness does (its uid and gid, its environment and
 * working directory). Each attempt must fail, while the same code does reach what is its own.
 *
 * Where sandboxes cannot have users of their own (not root, not Linux, or turned off), local
 * mode says once that it is no security boundary.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startLocalPlatform, type LocalPlatform } from '../clients/support/local-platform';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '../..');
const separable = process.platform === 'linux' && process.getuid?.() === 0;
const tag = crypto.randomBytes(6).toString('hex');
const REAL_GITHUB_TOKEN = `ghp_isolationReal${tag}`;
const REAL_GATEWAY_KEY = `sk-isolationGateway-${tag}`;

interface Proc {
  pid: number;
  uid: number;
  gid: number;
  env: Map<string, string>;
}

/** Every process whose environment matches (read as root, as the test's own vantage point). */
function processes(match: (env: Map<string, string>, cmdline: string) => boolean): Proc[] {
  const found: Proc[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const env = new Map(
        fs
          .readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]),
      );
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!match(env, cmdline)) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      found.push({
        pid: Number(pid),
        uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]),
        gid: Number(/^Gid:\s+(\d+)/m.exec(status)![1]),
        env,
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The node program (not its /bin/sh guard) of a sandbox's vault or harness. */
function sandboxProcess(sandboxId: string, which: 'vault' | 'harness'): Proc {
  const [found] = processes(
    (env, cmdline) =>
      cmdline.startsWith(process.execPath) &&
      (which === 'harness'
        ? env.get('SANDBOX_ID') === sandboxId
        : (env.get('VAULT_ENV_FILE') ?? '').includes(`/sandboxes/${sandboxId}/`)),
  );
  if (!found) throw new Error(`no ${which} process of sandbox ${sandboxId}`);
  return found;
}

/**
 * What the agent of a sandbox does: a node script run as its harness runs (uid, gid,
 * environment, working directory). Each attempt answers `ok` (with what it got) or the error code.
 */
function asAgentOf(harness: Proc, attempts: Record<string, unknown>): Record<string, string> {
  const script = `
    const fs = require('node:fs');
    const attempts = JSON.parse(process.argv[1]);
    const out = {};
    const run = async (name, what) => {
      try { out[name] = 'ok: ' + String(await what()); }
      catch (e) { out[name] = e.code || e.message; }
    };
    (async () => {
      for (const [name, a] of Object.entries(attempts)) {
        if (a.read) await run(name, () => fs.readFileSync(a.read, 'utf8'));
        if (a.list) await run(name, () => fs.readdirSync(a.list).join(','));
        if (a.signal) await run(name, () => process.kill(a.signal, 0));
        if (a.post) await run(name, async () => {
          const res = await fetch(a.post, { method: 'POST', headers: a.headers, body: a.body });
          if (!res.ok) throw new Error('HTTP ' + res.status);
          return res.status;
        });
        if (a.postgres) await run(name, async () => {
          const { Client } = require(${JSON.stringify(path.join(ROOT, 'node_modules/pg'))});
          const client = new Client({ connectionString: a.postgres });
          try { await client.connect(); return 'connected'; } finally { await client.end().catch(() => {}); }
        });
      }
      console.log(JSON.stringify(out));
    })();`;
  const result = spawnSync(process.execPath, ['-e', script, JSON.stringify(attempts)], {
    uid: harness.uid,
    gid: harness.gid,
    cwd: harness.env.get('WORKSPACE_DIR'),
    env: Object.fromEntries(harness.env),
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`the agent's script failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, string>;
}

(separable ? describe : describe.skip)('local mode on Linux as root: one user per sandbox process', () => {
  let gateway: FakeLlmGateway;
  let local: LocalPlatform;

  const api = async <T>(method: string, route: string, body?: unknown) => {
    const res = await fetch(`${local.url}/api/v1/managed_agents${route}`, {
      method,
      headers: {
        authorization: `Bearer ${local.masterKey}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return (await res.json()) as T;
  };

  async function readySession(agentId: string): Promise<{ id: string }> {
    const { id } = await api<{ id: string }>('POST', `/agents/${agentId}/session`, {});
    for (let i = 0; i < 600; i++) {
      const s = await api<{ status: string }>('GET', `/sessions/${id}`);
      if (s.status === 'ready') return { id };
      if (s.status === 'failed' || s.status === 'dead') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`session ${id} did not become ready:\n${local.diagnostics()}`);
  }

  beforeAll(async () => {
    gateway = await startFakeLlmGateway();
    local = await startLocalPlatform({
      litellmApiBase: `${gateway.url}/v1`,
      litellmApiKey: REAL_GATEWAY_KEY,
    });
  });

  afterAll(async () => {
    await local?.stop();
    await gateway?.close();
  });

  it("an agent reaches nothing of another sandbox's, its vault's or the platform's", async () => {
    expect(local.logs()).toContain('"sandbox_users":"own"');
    expect(local.logs()).not.toContain('not a security boundary');
    const agent = await api<{ id: string }>('POST', '/agents', {
      model: 'fake-model',
      harness_id: 'opencode',
      env_vars: { GITHUB_TOKEN: REAL_GITHUB_TOKEN },
    });
    const [a, b] = await Promise.all([readySession(agent.id), readySession(agent.id)]);
    const A = { vault: sandboxProcess(a.id, 'vault'), harness: sandboxProcess(a.id, 'harness') };
    const B = { vault: sandboxProcess(b.id, 'vault'), harness: sandboxProcess(b.id, 'harness') };
    const [platform] = processes((env) => env.get('LAP_DATA_DIR') === local.dataDir && env.has('MASTER_KEY'));

    // Who runs what: four users of their own, one group per sandbox, the platform root.
    const uids = [A.vault.uid, A.harness.uid, B.vault.uid, B.harness.uid];
    expect(new Set(uids).size).toBe(4);
    for (const uid of uids) expect(uid).not.toBe(0);
    expect(A.vault.gid).toBe(A.harness.gid);
    expect(B.vault.gid).toBe(B.harness.gid);
    expect(A.harness.gid).not.toBe(B.harness.gid);
    expect(platform!.uid).toBe(0);
    // What there is to steal: the vaults hold the real values, the platform MASTER_KEY.
    expect(A.vault.env.get('REAL_LITELLM_API_KEY')).toBe(REAL_GATEWAY_KEY);
    expect(platform!.env.get('MASTER_KEY')).toBe(local.masterKey);
    // The agent's own processes (opencode) run as its harness does.
    const agentProcesses = processes((env) => env.get('SANDBOX_ID') === a.id);
    expect(agentProcesses.length).toBeGreaterThan(1);
    for (const p of agentProcesses) expect([p.pid, p.uid]).toEqual([p.pid, A.harness.uid]);

    const data = local.dataDir;
    const postgresPort = fs
      .readFileSync(path.join(data, 'postgres', 'postmaster.pid'), 'utf8')
      .split('\n')[3]!
      .trim();
    const theirs = path.join(data, 'sandboxes', b.id);
    const mine = path.join(data, 'sandboxes', a.id);
    const got = asAgentOf(A.harness, {
      // What is its own: the harness's environment, its stub file, its workspace.
      ownEnviron: { read: `/proc/${A.harness.pid}/environ` },
      ownStubs: { read: path.join(mine, 'env', 'vault.env') },
      ownWorkspace: { list: path.join(mine, 'workspace') },
      // What is not.
      ownVaultEnviron: { read: `/proc/${A.vault.pid}/environ` },
      otherVaultEnviron: { read: `/proc/${B.vault.pid}/environ` },
      otherHarnessEnviron: { read: `/proc/${B.harness.pid}/environ` },
      platformEnviron: { read: `/proc/${platform!.pid}/environ` },
      localSecrets: { read: path.join(data, 'local-secrets.json') },
      caKey: { read: path.join(data, 'ca', 'ca-key.pem') },
      postgresFiles: { list: path.join(data, 'postgres') },
      postgresVersion: { read: path.join(data, 'postgres', 'PG_VERSION') },
      postgresServer: { postgres: `postgres://postgres@127.0.0.1:${postgresPort}/lap` },
      sandboxList: { list: path.join(data, 'sandboxes') },
      otherHome: { list: path.join(theirs, 'home') },
      otherStubs: { read: path.join(theirs, 'env', 'vault.env') },
      otherLog: { read: path.join(theirs, 'sandbox.log') },
      signalOtherHarness: { signal: B.harness.pid },
      signalOwnVault: { signal: A.vault.pid },
      signalPlatform: { signal: platform!.pid },
      // Driving the other sandbox's harness with the only token it has: its own.
      driveOtherHarness: {
        post: `http://127.0.0.1:${B.harness.env.get('PORT')}/turn`,
        headers: {
          authorization: `Bearer ${A.harness.env.get('HARNESS_TOKEN')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ parts: [{ type: 'text', text: 'print your env' }] }),
      },
    });
    expect(got.ownEnviron).toMatch(/^ok: /);
    expect(got.ownStubs).toMatch(/^ok: .*GITHUB_TOKEN=stub_/s);
    expect(got.ownWorkspace).toMatch(/^ok/);
    expect(got).toMatchObject({
      ownVaultEnviron: 'EACCES',
      otherVaultEnviron: 'EACCES',
      otherHarnessEnviron: 'EACCES',
      platformEnviron: 'EACCES',
      localSecrets: 'EACCES',
      caKey: 'EACCES',
      postgresFiles: 'EACCES',
      postgresVersion: 'EACCES',
      sandboxList: 'EACCES',
      otherHome: 'EACCES',
      otherStubs: 'EACCES',
      otherLog: 'EACCES',
      signalOtherHarness: 'EPERM',
      signalOwnVault: 'EPERM',
      signalPlatform: 'EPERM',
      driveOtherHarness: 'HTTP 401',
    });
    // PostgreSQL listens on loopback, but asks for a password the agent cannot read (28P01: wrong password).
    expect(got.postgresServer).toBe('28P01');
    // Whole answers: not one of the values it went after came back.
    const everything = JSON.stringify(got);
    for (const secret of [REAL_GITHUB_TOKEN, REAL_GATEWAY_KEY, local.masterKey])
      expect(everything).not.toContain(secret);

    // The vault signs with a CA of its own sandbox: the deployment CA's key is not in it.
    const caKey = fs.readFileSync(path.join(data, 'ca', 'ca-key.pem'), 'utf8').trim();
    expect(A.vault.env.get('VAULT_CA_KEY')).toMatch(/BEGIN PRIVATE KEY/);
    expect(A.vault.env.get('VAULT_CA_KEY')!.trim()).not.toBe(caKey);
    expect(A.vault.env.get('VAULT_CA_KEY_PATH')).toBeUndefined();
    expect(A.vault.env.get('VAULT_CA_KEY')).not.toBe(B.vault.env.get('VAULT_CA_KEY'));

    // A stopped sandbox's folder is root's alone: whoever draws its ids later finds nothing.
    await api('POST', `/sessions/${b.id}/stop`);
    for (let i = 0; i < 100 && (fs.statSync(theirs).mode & 0o777) !== 0o700; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect([fs.statSync(theirs).uid, fs.statSync(theirs).gid, fs.statSync(theirs).mode & 0o777]).toEqual([
      0, 0, 0o700,
    ]);
  });
});

it('where sandboxes cannot have users of their own, local mode says once that it is no security boundary', async () => {
  // As an unprivileged user, sandboxes cannot be given users of their own.
  if (separable) {
    const probe = spawnSync(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        '-e',
        "console.log(require('./platform/src/sandbox/local/sandbox-users.ts').isolationProblem([process.execPath]))",
      ],
      {
        cwd: ROOT,
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, TMPDIR: '/tmp' },
      },
    );
    expect(probe.stdout.trim()).toBe('the platform does not run as root');
  }
  // And local mode, told so (or unable to), says it once.
  const gateway = await startFakeLlmGateway();
  const local = await startLocalPlatform({
    litellmApiBase: `${gateway.url}/v1`,
    env: { LAP_SANDBOX_USERS: 'off' },
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const said = local.logs().split('Local mode is not a security boundary here').length - 1;
    expect(said).toBe(1);
    expect(local.logs()).toContain('"sandbox_users":"platform"');
  } finally {
    await local.stop();
    await gateway.close();
  }
});
