/**
 * No sandbox process outlives what started it, however that ends. The harness with the real
 * opencode: killed with SIGKILL, or stopped with SIGTERM, its opencode goes too. Local mode
 * (LocalSandboxLauncher): when the platform process is killed its sandboxes go with it; a
 * new run stops what an older one left behind (and only that); stop() leaves nothing, the
 * agent's own processes included.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { LocalSandboxLauncher } from '../../platform/src/sandbox/local/local-launcher';
import { startFakeLlmGateway, type FakeLlmGateway } from '../support/fake-llm-gateway';
import { startFakePlatform } from './support/fake-platform';
import {
  findOpencode,
  isRunning,
  processTree,
  REPO_ROOT,
  spawnHarnessProcess,
  spawnVaultProcess,
  waitGone,
  type EntryProcess,
  type VaultProcess,
} from './support/processes';
import { createTestPki, type TestPki } from './support/tls';
import { launchDouble, launcherOfDoubles } from './support/local-sandboxes';
import { ADMIN_TOKEN, pushVaultSecrets } from './support/vault';

jest.setTimeout(180_000);

const HARNESS_TOKEN = 'harness-token-life-0123456789abcdef';
const CALLBACK_TOKEN = 'callback-token-life-0123456789abcdef';
const SANDBOX_ID = '5e5e5e5e-0000-4000-8000-000000000005';

let pki: TestPki;
let llm: FakeLlmGateway;
let platform: Awaited<ReturnType<typeof startFakePlatform>>;

function bootSpec(sandboxId: string): SandboxBootSpec {
  return {
    sandbox_id: sandboxId,
    agent_id: 'agent-life',
    harness_id: 'opencode',
    model: 'test-model',
    prompt: '',
    repo_url: null,
    branch: 'main',
    requirements: null,
    mcp_servers: [],
    litellm_api_base: `https://localhost:${llm.port}`,
    files: [],
  };
}

beforeAll(async () => {
  pki = createTestPki();
  llm = await startFakeLlmGateway({ tls: pki.upstreamServerCert });
  platform = await startFakePlatform(bootSpec(SANDBOX_ID), CALLBACK_TOKEN);
});

afterAll(async () => {
  await Promise.all([llm?.close(), platform?.close()]);
});

describe('the harness, run directly', () => {
  let vault: VaultProcess;
  const harnesses: EntryProcess[] = [];

  beforeAll(async () => {
    const sandboxDir = fs.mkdtempSync(path.join(pki.dir, 'sandbox-'));
    vault = await spawnVaultProcess(pki, sandboxDir, {
      REAL_LITELLM_API_KEY: 'sk-real-life',
      HOST_LITELLM_API_KEY: 'localhost',
    });
    expect((await pushVaultSecrets(pki, vault.adminPort, { secrets: {} })).status).toBe(200);
    // Two harnesses beside one vault (its env file is written once for both).
    for (const name of ['killed', 'stopped']) {
      const dir = fs.mkdtempSync(path.join(sandboxDir, `${name}-`));
      harnesses.push(
        spawnHarnessProcess(dir, vault, {
          SANDBOX_ID,
          HARNESS_ID: 'opencode',
          HARNESS_TOKEN,
          CALLBACK_URL: platform.url,
          CALLBACK_TOKEN,
        }),
      );
    }
    await Promise.all(
      harnesses.map((h) => h.waitForLog((line) => line.event === 'harness_listening', 120_000)),
    );
  });

  afterAll(async () => {
    for (const harness of harnesses) await harness.stop();
    await vault?.process.stop();
  });

  it('takes opencode (and its port) with it when it is killed with SIGKILL', async () => {
    const harness = harnesses[0]!;
    const opencode = await findOpencode(harness.child.pid!);
    const agentProcesses = processTree(harness.child.pid!).filter((pid) => pid !== harness.child.pid);
    process.kill(harness.child.pid!, 'SIGKILL');
    expect(await waitGone(agentProcesses, 10_000)).toEqual([]);
    expect(isRunning(opencode)).toBe(false);
  });

  it('stops opencode and exits 0 on SIGTERM', async () => {
    const harness = harnesses[1]!;
    const agentProcesses = processTree(harness.child.pid!).filter((pid) => pid !== harness.child.pid);
    expect(agentProcesses).toContain(await findOpencode(harness.child.pid!));
    const exited = new Promise<number | null>((resolve) =>
      harness.child.once('exit', (code) => resolve(code)),
    );
    process.kill(harness.child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    // Gone before the harness exited: nothing is left for anyone to clean up.
    expect(agentProcesses.filter(isRunning)).toEqual([]);
  });
});

describe('local mode (LocalSandboxLauncher)', () => {
  it('takes the sandboxes down when the platform process is killed with SIGKILL', async () => {
    const dataDir = fs.mkdtempSync(path.join(pki.dir, 'platform-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/sandbox/support/launcher-process.ts'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH!,
        LAP_DATA_DIR: dataDir,
        CA_CERT_PATH: pki.deploymentCaPath,
        CA_KEY_PATH: pki.deploymentCaKeyPath,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const registry = await new Promise<{ pids: Record<string, number> }>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
      child.once('exit', (code) => reject(new Error(`the launcher process exited (${code})`)));
    });
    // Every process of both sandbox processes' groups, the vault's relay included, once up.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const sandboxProcesses = Object.values(registry.pids).flatMap((pid) => processTree(pid));
    expect(sandboxProcesses.length).toBeGreaterThanOrEqual(3);
    expect(sandboxProcesses.every(isRunning)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitGone(sandboxProcesses, 10_000)).toEqual([]);
  });

  it('stops what an earlier run left behind on start, and never a process that is not its own', async () => {
    const dataDir = fs.mkdtempSync(path.join(pki.dir, 'restart-'));
    const ca = { certPath: pki.deploymentCaPath, keyPath: pki.deploymentCaKeyPath };
    const earlier = launcherOfDoubles(dataDir, ca);
    const { pids } = await launchDouble(earlier, dataDir, 'b2b2b2b2-0000-4000-8000-00000000000b');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const leftovers = Object.values(pids).flatMap((pid) => processTree(pid));

    // A registry whose process id now belongs to someone else (recorded start time differs).
    const stranger = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const strangerDir = path.join(dataDir, 'sandboxes', 'c3c3c3c3-0000-4000-8000-00000000000c');
    fs.mkdirSync(strangerDir, { recursive: true });
    fs.writeFileSync(
      path.join(strangerDir, 'sandbox.json'),
      JSON.stringify({ pids: { harness: stranger.pid }, started: { harness: '1' } }),
    );
    try {
      const next = launcherOfDoubles(dataDir, ca);
      expect(next.stopLeftovers()).toBe(2);
      expect(await waitGone(leftovers, 10_000)).toEqual([]);
      expect(isRunning(stranger.pid!)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
      await earlier.stopAll('test over');
    }
  });

  it("leaves no process on stop, the agent's own (opencode) included", async () => {
    const dataDir = fs.mkdtempSync(path.join(pki.dir, 'stop-'));
    const launcher = new LocalSandboxLauncher({
      dataDir,
      caCertPath: pki.deploymentCaPath,
      caKeyPath: pki.deploymentCaKeyPath,
      litellm: { apiBase: `https://localhost:${llm.port}`, apiKey: 'sk-real-life' },
      // The fake LLM's certificate is from the test's upstream CA.
      extraEnv: { VAULT_UPSTREAM_CA_PATH: pki.upstreamCaPath },
    });
    const { ref } = await launcher.launch({
      sandboxId: SANDBOX_ID,
      kind: 'session',
      agentId: 'agent-life',
      harnessId: 'opencode',
      harnessImage: null,
      harnessEnv: {
        SANDBOX_ID,
        HARNESS_ID: 'opencode',
        HARNESS_TOKEN,
        CALLBACK_URL: platform.url,
        CALLBACK_TOKEN,
      },
      vaultEnv: { VAULT_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    try {
      const adminPort = Number(new URL((await launcher.describe(ref))!.vaultAdminUrl!).port);
      for (let pushed = false; !pushed;) {
        pushed = await pushVaultSecrets(pki, adminPort, { secrets: {} }).then(
          (r) => r.status === 200,
          () => new Promise((resolve) => setTimeout(() => resolve(false), 200)),
        );
      }
      const log = path.join(dataDir, 'sandboxes', SANDBOX_ID, 'sandbox.log');
      const deadline = Date.now() + 120_000;
      while (!fs.readFileSync(log, 'utf8').includes('"event":"harness_listening"')) {
        if (Date.now() > deadline)
          throw new Error(`the harness never listened:\n${fs.readFileSync(log, 'utf8')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const { pids } = JSON.parse(
        fs.readFileSync(path.join(dataDir, 'sandboxes', SANDBOX_ID, 'sandbox.json'), 'utf8'),
      ) as { pids: Record<string, number> };
      const opencode = await findOpencode(pids.harness!);
      const sandboxProcesses = Object.values(pids).flatMap((pid) => processTree(pid));
      expect(sandboxProcesses).toContain(opencode);
      await launcher.stop(ref, 'test over');
      expect(await waitGone(sandboxProcesses, 1000)).toEqual([]);
    } finally {
      await launcher.stopAll('test over');
    }
  });
});
