import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unusedPort } from './loopback';

const repoRoot = path.resolve(__dirname, '../../..');
export const LOCAL_MAIN = 'platform/src/local/main.ts';

export interface LocalPlatform {
  url: string;
  masterKey: string;
  dataDir: string;
  /** Everything local mode printed (JSON logs). */
  logs(): string;
  /** The ends of local mode's log and of every sandbox's log, for failure messages. */
  diagnostics(): string;
  stop(): Promise<void>;
}

/**
 * Starts real local mode (`npm run local`: embedded PostgreSQL, API, worker, local
 * sandbox launcher running the real harness and vault) on a free port with its own
 * data directory, and waits until /healthz answers.
 */
export async function startLocalPlatform(options: {
  litellmApiBase: string;
  litellmApiKey?: string;
  readyTimeoutMs?: number;
  /** Extra environment for local mode (and so for its sandboxes' PATH). */
  env?: Record<string, string>;
}): Promise<LocalPlatform> {
  const port = await unusedPort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-clients-e2e-'));
  const masterKey = 'clients-e2e-master-key';
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', LOCAL_MAIN], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      PORT: String(port),
      MASTER_KEY: masterKey,
      LAP_DATA_DIR: dataDir,
      LITELLM_API_BASE: options.litellmApiBase,
      LITELLM_API_KEY: options.litellmApiKey ?? 'sk-fake-gateway-key',
      WARM_POOL_SIZE: '0',
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`local mode exited with ${child.exitCode} before it was ready:\n${output}`);
    }
    if (await isHealthy(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`local mode was not healthy in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const diagnostics = () => {
    const sandboxesDir = path.join(dataDir, 'sandboxes');
    const sandboxLogs = fs.existsSync(sandboxesDir)
      ? fs.readdirSync(sandboxesDir).map((id) => {
          const log = path.join(sandboxesDir, id, 'sandbox.log');
          return `--- sandbox ${id}\n${fs.existsSync(log) ? tail(fs.readFileSync(log, 'utf8'), 40) : '(no log)'}`;
        })
      : [];
    return [`--- local mode`, tail(output, 40), ...sandboxLogs].join('\n');
  };
  return { url, masterKey, dataDir, logs: () => output, diagnostics, stop };
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}
