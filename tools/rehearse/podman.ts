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

/**
 * The init process `--init` runs as PID 1 (ECS's initProcessEnabled runs tini the same way):
 * static, as it is mounted into images of any libc or none. Debian package `tini`.
 */
export const INIT_PATH = '/usr/bin/tini-static';

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

  /** Size of an image as podman reports it (uncompressed layers), in bytes. */
  async imageSize(image: string): Promise<number> {
    return Number(await this.run(['image', 'inspect', '--format', '{{.Size}}', image]));
  }

  /**
   * What a registry stores and Fargate pulls for these images together: their layers gzipped,
   * each layer once (the images of one task share their common layers), in bytes.
   */
  async compressedPull(images: string[]): Promise<number> {
    const layout = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-rehearse-oci-'));
    try {
      for (const [i, image] of images.entries()) {
        await this.run(['push', '-q', '--compression-format', 'gzip', image, `oci:${layout}:image${i}`]);
      }
      const blobs = path.join(layout, 'blobs', 'sha256');
      return fs.readdirSync(blobs).reduce((sum, blob) => sum + fs.statSync(path.join(blobs, blob)).size, 0);
    } finally {
      fs.rmSync(layout, { recursive: true, force: true });
    }
  }

  async inspect<T = Record<string, unknown>>(kind: 'container' | 'image', name: string): Promise<T> {
    const [first] = JSON.parse(await this.run([kind, 'inspect', name])) as T[];
    return first;
  }

  /** The container's address on a network (a task's "ENI"); its only network's by default. */
  async address(container: string, network?: string): Promise<string> {
    const info = await this.inspect<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>(
      'container',
      container,
    );
    const networks = info.NetworkSettings.Networks;
    const ip = network ? networks[network]?.IPAddress : Object.values(networks)[0]?.IPAddress;
    if (!ip) throw new Error(`container ${container} has no address on network ${network ?? '(any)'}`);
    return ip;
  }

  /** A bridge network; `internal`: no route out of its subnet (and no address of the host on it). */
  async createNetwork(name: string, subnet: string, internal: boolean): Promise<void> {
    await this.run([
      'network',
      'create',
      '--label',
      REHEARSAL_LABEL,
      '--subnet',
      subnet,
      ...(internal ? ['--internal'] : []),
      name,
    ]);
  }

  /** Removes every pod, container and network carrying the rehearsal label. */
  async removeAll(): Promise<void> {
    const pods = await this.run(['pod', 'ps', '-q', '--filter', `label=${REHEARSAL_LABEL}`]).catch(() => '');
    for (const pod of pods.split('\n').filter(Boolean)) {
      await this.run(['pod', 'rm', '-f', '-t', '2', pod]).catch(() => undefined);
    }
    const containers = await this.run(['ps', '-aq', '--filter', `label=${REHEARSAL_LABEL}`]).catch(() => '');
    for (const container of containers.split('\n').filter(Boolean)) {
      await this.run(['rm', '-f', '-t', '2', container]).catch(() => undefined);
    }
    const networks = await this.run(['network', 'ls', '-q', '--filter', `label=${REHEARSAL_LABEL}`]).catch(
      () => '',
    );
    for (const network of networks.split('\n').filter(Boolean)) {
      await this.run(['network', 'rm', '-f', network]).catch(() => undefined);
    }
  }
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
