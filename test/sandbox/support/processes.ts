/** Runs a sandbox entry point (`node --import tsx <file>`) as a process and captures its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestPki } from './tls';
import { testVaultEnv } from './vault';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface EntryProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first JSON log line matching, rejects on exit or timeout. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function spawnEntry(entry: string, env: Record<string, string>): EntryProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: stop() takes down whatever it spawned (opencode, git).
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    async waitForLog(predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const line of output.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            const parsed = JSON.parse(line) as Record<string, unknown>;
            if (predicate(parsed)) return parsed;
          } catch {
            // a partial line
          }
        }
        if (child.exitCode !== null)
          throw new Error(`${entry} exited (${child.exitCode}):\n${output.slice(-3000)}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for a log line of ${entry}:\n${output.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
        clearTimeout(timer);
      }
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    },
  };
}

export interface VaultProcess {
  process: EntryProcess;
  envFile: string;
  /** Where the vault publishes its CA certificate for the harness (the shared volume on ECS). */
  caCertPath: string;
  proxyUrl: string;
  adminPort: number;
}

/**
 * Runs the vault entry point as a process, configured as its container is: env file and CA
 * certificate in `sandboxDir`, listening once this resolves. `env` adds the REAL_/HOST_ secrets.
 */
export async function spawnVaultProcess(
  pki: TestPki,
  sandboxDir: string,
  env: Record<string, string>,
): Promise<VaultProcess> {
  const envFile = path.join(sandboxDir, 'vault.env');
  const caCertPath = path.join(sandboxDir, 'vault-ca.pem');
  const vault = spawnEntry('sandbox/vault/src/main.ts', {
    PATH: process.env.PATH!,
    ...testVaultEnv(pki, envFile),
    VAULT_CA_CERT_OUT: caCertPath,
    ...env,
  });
  const listening = await vault.waitForLog((line) => line.event === 'vault_listening');
  return {
    process: vault,
    envFile,
    caCertPath,
    proxyUrl: `http://127.0.0.1:${String(listening.proxy_port)}`,
    adminPort: Number(listening.admin_port),
  };
}

/**
 * Runs the harness entry point as a process beside `vault`, as its container is: workspace and
 * HOME in `sandboxDir`, all traffic (loopback included) through the vault, trusting its CA.
 */
export function spawnHarnessProcess(
  sandboxDir: string,
  vault: VaultProcess,
  env: {
    SANDBOX_ID: string;
    HARNESS_ID: string;
    HARNESS_TOKEN: string;
    CALLBACK_URL: string;
    CALLBACK_TOKEN: string;
  } & Record<string, string>,
): EntryProcess {
  return spawnEntry('sandbox/harness/src/main.ts', {
    PATH: process.env.PATH!,
    PORT: '0',
    HARNESS_BIND_HOST: '127.0.0.1',
    VAULT_ENV_FILE: vault.envFile,
    WORKSPACE_DIR: path.join(sandboxDir, 'workspace'),
    HOME: path.join(sandboxDir, 'home'),
    HTTPS_PROXY: vault.proxyUrl,
    HTTP_PROXY: vault.proxyUrl,
    // Everything, loopback included, goes through the vault (the platform is called directly).
    NO_PROXY: '',
    NODE_EXTRA_CA_CERTS: vault.caCertPath,
    ...env,
  });
}
