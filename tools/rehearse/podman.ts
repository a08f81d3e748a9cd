/**
 * podman as this machine runs it (../shared/docs/containers.md): as root, runc with cgroupfs,
 * and a containers.conf without default ulimits. Every container and pod the rehearsal makes is
 * labelled, so the clean-up removes exactly those.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The label on everything the rehearsal creates. */
export const REHEARSAL_LABEL = 'lap.rehearse=1';

export class Podman {
  readonly env: NodeJS.ProcessEnv;
  /** The command prefix, for scripts that take it as arguments (bases.sh). */
  readonly command: string[] = ['podman', '--runtime', 'runc', '--cgroup-manager=cgroupfs'];

  constructor(workDir: string) {
    const conf = path.join(workDir, 'containers.conf');
    fs.writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
    this.env = { ...process.env, CONTAINERS_CONF: conf };
  }

  /** Runs podman and returns its stdout; a failure carries podman's stderr. */
  async run(args: string[], options: { quiet?: boolean } = {}): Promise<string> {
    try {
      const { stdout } = await run(this.command[0], [...this.command.slice(1), ...args], {
        env: this.env,
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout.trim();
    } catch (error) {
      const e = error as Error & { stderr?: string; code?: number };
      if (options.quiet) throw e;
      throw new Error(
        `podman ${args.slice(0, 3).join(' ')} failed (${e.code}): ${(e.stderr ?? e.message).trim()}`,
        { cause: error },
      );
    }
  }

  /** A long command whose output goes to a log file (image builds), resolved with its exit code. */
  stream(args: string[], logFile: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const out = fs.openSync(logFile, 'a');
      const child = spawn(this.command[0], [...this.command.slice(1), ...args], {
        env: this.env,
        stdio: ['ignore', out, out],
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        fs.closeSync(out);
        resolve(code ?? 1);
      });
    });
  }

  async exists(image: string): Promise<boolean> {
    try {
      await this.run(['image', 'exists', image], { quiet: true });
      return true;
    } catch {
      return false;
    }
  }

  /** Size of an image as podman reports it (uncompressed layers), in bytes. */
  async imageSize(image: string): Promise<number> {
    return Number(await this.run(['image', 'inspect', '--format', '{{.Size}}', image]));
  }

  async inspect<T = Record<string, unknown>>(kind: 'container' | 'image', name: string): Promise<T> {
    const [first] = JSON.parse(await this.run([kind, 'inspect', name])) as T[];
    return first;
  }

  /** The container's address on the podman network (a task's "ENI"). */
  async address(container: string): Promise<string> {
    const info = await this.inspect<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>(
      'container',
      container,
    );
    const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress;
    if (!ip) throw new Error(`container ${container} has no address on the podman network`);
    return ip;
  }

  /** Removes every pod and container carrying the rehearsal label. */
  async removeAll(): Promise<void> {
    const pods = await this.run(['pod', 'ps', '-q', '--filter', `label=${REHEARSAL_LABEL}`]).catch(() => '');
    for (const pod of pods.split('\n').filter(Boolean)) {
      await this.run(['pod', 'rm', '-f', '-t', '2', pod]).catch(() => undefined);
    }
    const containers = await this.run(['ps', '-aq', '--filter', `label=${REHEARSAL_LABEL}`]).catch(() => '');
    for (const container of containers.split('\n').filter(Boolean)) {
      await this.run(['rm', '-f', '-t', '2', container]).catch(() => undefined);
    }
  }
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
