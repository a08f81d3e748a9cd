/**
 * Real local mode (`platform/src/local/main.ts`, as `npm run local` runs it) as a child
 * process on a given data directory and port, so a test can stop and restart it on the
 * same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');

export interface LocalMode {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startLocalMode(dataDir: string, port: number, env: Record<string, string>): LocalMode {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'platform/src/local/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH!,
      LAP_DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'info',
      WARM_POOL_SIZE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitHealthy(port: number, mode: LocalMode): Promise<void> {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (mode.child.exitCode !== null) throw new Error(`local mode exited early:\n${mode.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`local mode not healthy in time:\n${mode.output()}`);
}

/** A JSON call to local mode's API with the given master key; the body of a non-JSON answer is null. */
export function localApi(port: number, key: () => string) {
  return async <T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, {
      method,
      headers: { authorization: `Bearer ${key()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  };
}

/** Kills a local mode still running (a test's clean-up after a failure). */
export async function killLocalMode(mode: LocalMode | undefined): Promise<void> {
  if (mode && mode.child.exitCode === null) {
    mode.child.kill('SIGKILL');
    await mode.exited;
  }
}
