/** Runs a sandbox entry point (`node --import tsx <file>`) as a process and captures its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
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

/** A process and all its descendants (Linux /proc). */
export function processTree(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of fs.readdirSync(`/proc/${out[i]}/task`)) {
        const children = fs.readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The command line of a process, or null once it is gone. */
export function commandLine(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

/** The `opencode serve` process under `root` (not the shell guarding it), waited for. */
export async function findOpencode(root: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = processTree(root).find((p) => /^\S*\/opencode(\.exe)? serve /.test(commandLine(p) ?? ''));
    if (pid) return pid;
    if (Date.now() > deadline) throw new Error(`no opencode serve under process ${root}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs; returns those still running after `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
