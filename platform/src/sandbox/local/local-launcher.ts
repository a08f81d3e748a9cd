/**
 * SandboxLauncher for local mode: a sandbox is two local processes, the vault and
 * the harness (bundled, entry-command.ts), on free loopback ports, living in
 * `<dataDir>/sandboxes/<id>/` with HOME and WORKSPACE_DIR inside it. Each process runs
 * in a process group of its own that dies with this process, however it ends
 * (@lap/harness process-group.ts), so stop() and a crash both take down whatever it
 * spawned. `sandbox.json` records the groups while they run: a later start kills what a
 * previous run left (stopLeftovers), should anything have survived.
 *
 * On Linux as root each sandbox's vault and harness run as users of their own, and the vault
 * signs with a CA of its own sandbox, never holding the deployment CA's key
 * (sandbox-users.ts); elsewhere `isolation` says why the sandboxes are no security boundary.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { HARNESS_TTY_COMMAND_ENV } from '@lap/sandbox-protocol';
import { describeExit, spawnProcessGroup, type ProcessGroup } from '@lap/harness/src/process-group';
import { issueIntermediateCa } from '@lap/vault/src/ca';
import type {
  SandboxLaunchResult,
  SandboxLaunchSpec,
  SandboxLauncher,
  SandboxState,
  SandboxTags,
} from '../launcher';
import { entryCommand } from './entry-command';
import { freeLoopbackPort } from './free-port';
import { readLogTail } from './log-tail';
import {
  drawSandboxUsers,
  isolationProblem,
  lockSandboxFolder,
  prepareSandboxFolder,
  type SandboxUsers,
} from './sandbox-users';

const REPO_ROOT = path.resolve(__dirname, '../../../..');
const STOP_GRACE_MS = 5000;
/** A sandbox's own CA (isolated sandboxes) lives as long as the leaves its vault issues. */
const SANDBOX_CA_VALIDITY_DAYS = 30;

export interface LocalLauncherOptions {
  /** LAP_DATA_DIR: sandboxes live in `<dataDir>/sandboxes/<id>/`. */
  dataDir: string;
  /** Deployment CA files (the vault signs with it, the harness trusts it). */
  caCertPath: string;
  caKeyPath: string;
  /** Gateway the local vaults hold the real key for (REAL_/HOST_LITELLM_API_KEY). */
  litellm: { apiBase: string | undefined; apiKey: string | undefined };
  /** The real git token the local vaults swap in for the harness's stub GIT_TOKEN, only for `hosts`
   *  (REAL_/HOST_GIT_TOKEN): private repositories clone without the harness ever holding it. */
  git?: { token: string | undefined; hosts: string[] };
  /** `lap:environment` tag value. */
  environment?: string;
  vaultEntry?: string;
  harnessEntry?: string;
  /** Extra environment for both processes (tests: e.g. a fake harness's behaviour). */
  extraEnv?: Record<string, string>;
  /** A sandbox stopped on its own (a process exited): local mode's stand-in for ECS task-state events. */
  onUnexpectedStop?: (state: SandboxState) => void;
  /**
   * `auto` (default): users of their own per sandbox where possible (Linux, root);
   * `off`: the platform's own user, no security boundary (LAP_SANDBOX_USERS=off).
   */
  sandboxUsers?: 'auto' | 'off';
}

/** Whether sandboxes are separated from each other and from the platform (sandbox-users.ts). */
export type SandboxIsolation = { separated: true } | { separated: false; reason: string };

type Container = 'vault' | 'harness';

interface LocalSandbox {
  ref: string;
  dir: string;
  tags: SandboxTags;
  processes: Record<Container, ProcessGroup>;
  ports: { harness: number; vault: number; vaultAdmin: number };
  startedAt: Date;
  stoppedAt: Date | null;
  stopping: boolean;
  stopReason: string | null;
  /** A process ended on its own (an essential container exited). */
  crashed: boolean;
  /** Its own users (isolated), or null (the platform's user). */
  users: SandboxUsers | null;
  exited: Promise<void>;
  log: fs.WriteStream;
}

/** A copy of the platform's environment without anything secret: only what a process needs to run. */
function baseEnv(): Record<string, string> {
  // HARNESS_TTY_COMMAND / OPENCODE_BIN: which program a local harness runs (development, tests).
  const keep = ['PATH', 'LANG', 'TZ', 'TMPDIR', 'NODE_OPTIONS', HARNESS_TTY_COMMAND_ENV, 'OPENCODE_BIN'];
  return Object.fromEntries(
    keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]),
  );
}

export class LocalSandboxLauncher implements SandboxLauncher {
  private readonly sandboxes = new Map<string, LocalSandbox>();
  private readonly vaultEntry: string;
  private readonly harnessEntry: string;
  readonly isolation: SandboxIsolation;

  constructor(private readonly options: LocalLauncherOptions) {
    this.vaultEntry = options.vaultEntry ?? path.join(REPO_ROOT, 'sandbox/vault/src/main.ts');
    this.harnessEntry = options.harnessEntry ?? path.join(REPO_ROOT, 'sandbox/harness/src/main.ts');
    const problem =
      options.sandboxUsers === 'off'
        ? 'sandbox users are turned off (LAP_SANDBOX_USERS=off)'
        : isolationProblem([this.vaultEntry, this.harnessEntry, process.execPath, options.dataDir]);
    this.isolation = problem ? { separated: false, reason: problem } : { separated: true };
  }

  async launch(spec: SandboxLaunchSpec): Promise<SandboxLaunchResult> {
    const ref = `local:${spec.sandboxId}`;
    const existing = this.sandboxes.get(ref);
    if (existing && !existing.stoppedAt) return { ref };
    const dir = path.join(this.options.dataDir, 'sandboxes', spec.sandboxId);
    // A sandbox launched again (a resumed bring-up) keeps its users: its folder holds their files.
    const users = this.isolation.separated ? (existing?.users ?? drawSandboxUsers()) : null;
    const folders = prepareSandboxFolder(dir, users, this.options.caCertPath);
    const { home, workspace } = folders;
    const envFile = path.join(folders.env, 'vault.env');
    fs.rmSync(envFile, { force: true });
    // Separated: the vault signs with a CA of this sandbox only (the deployment CA's key stays here).
    const vaultCa = users
      ? await issueIntermediateCa(
          {
            certPem: fs.readFileSync(this.options.caCertPath, 'utf8'),
            keyPem: fs.readFileSync(this.options.caKeyPath, 'utf8'),
          },
          { commonName: `LAP sandbox ${spec.sandboxId}`, validityDays: SANDBOX_CA_VALIDITY_DAYS },
        )
      : null;
    const caCertForHarness = folders.caCert ?? this.options.caCertPath;
    const ports = {
      harness: await freeLoopbackPort(),
      vault: await freeLoopbackPort(),
      vaultAdmin: await freeLoopbackPort(),
    };
    const proxy = `http://127.0.0.1:${ports.vault}`;
    const gatewayHost = this.options.litellm.apiBase
      ? new URL(this.options.litellm.apiBase).hostname
      : undefined;
    const vaultEnv: Record<string, string> = {
      ...baseEnv(),
      ...this.options.extraEnv,
      ...spec.vaultEnv,
      VAULT_ADMIN_BIND_HOST: '127.0.0.1',
      // The gateway and the platform stay reachable whatever the agent's allow_out says.
      EGRESS_ALWAYS_ALLOW: ['127.0.0.1', 'localhost', gatewayHost].filter(Boolean).join(','),
      VAULT_PORT: String(ports.vault),
      VAULT_ADMIN_PORT: String(ports.vaultAdmin),
      VAULT_ENV_FILE: envFile,
      ...(vaultCa
        ? {
            VAULT_CA_CERT: vaultCa.certPem,
            VAULT_CA_KEY: vaultCa.keyPem,
            HOME: folders.vault!,
            TMPDIR: folders.vault!,
          }
        : { VAULT_CA_CERT_PATH: this.options.caCertPath, VAULT_CA_KEY_PATH: this.options.caKeyPath }),
      ...(this.options.litellm.apiKey && gatewayHost
        ? { REAL_LITELLM_API_KEY: this.options.litellm.apiKey, HOST_LITELLM_API_KEY: gatewayHost }
        : {}),
      ...(this.options.git?.token
        ? { REAL_GIT_TOKEN: this.options.git.token, HOST_GIT_TOKEN: this.options.git.hosts.join(',') }
        : {}),
    };
    const harnessEnv: Record<string, string> = {
      ...baseEnv(),
      ...this.options.extraEnv,
      ...spec.harnessEnv,
      HOME: home,
      WORKSPACE_DIR: workspace,
      ...(folders.tmp ? { TMPDIR: folders.tmp } : {}),
      PORT: String(ports.harness),
      VAULT_ENV_FILE: envFile,
      HTTPS_PROXY: proxy,
      HTTP_PROXY: proxy,
      https_proxy: proxy,
      http_proxy: proxy,
      // No NO_PROXY: a gateway on loopback must go through the vault too (it swaps the stub key there).
      // The harness's own calls to the platform use Node's fetch, which ignores proxy variables.
      HARNESS_BIND_HOST: '127.0.0.1',
      NODE_EXTRA_CA_CERTS: caCertForHarness,
      SSL_CERT_FILE: caCertForHarness,
      ...(this.options.litellm.apiBase ? { LITELLM_API_BASE: this.options.litellm.apiBase } : {}),
    };
    const tags: SandboxTags = {
      'lap:sandbox-id': spec.sandboxId,
      'lap:kind': spec.kind,
      'lap:agent-id': spec.agentId,
      'lap:environment': this.options.environment ?? 'local',
    };
    // Our own programs run bundled; an entry given in the options (a test double) through tsx.
    const [vaultArgs, harnessArgs] = await Promise.all([
      entryCommand(this.vaultEntry, { bundle: this.options.vaultEntry === undefined }),
      entryCommand(this.harnessEntry, { bundle: this.options.harnessEntry === undefined }),
    ]);
    const log = fs.createWriteStream(path.join(dir, 'sandbox.log'), { flags: 'a', mode: 0o600 });
    const vault = this.spawnProcess(
      'vault',
      vaultArgs,
      vaultEnv,
      folders.vault ?? workspace,
      log,
      users && {
        uid: users.vaultUid,
        gid: users.gid,
      },
    );
    const harness = this.spawnProcess(
      'harness',
      harnessArgs,
      harnessEnv,
      workspace,
      log,
      users && {
        uid: users.harnessUid,
        gid: users.gid,
      },
    );
    const processes = { vault, harness };
    const sandbox: LocalSandbox = {
      ref,
      dir,
      tags,
      processes,
      ports,
      startedAt: new Date(),
      stoppedAt: null,
      stopping: false,
      stopReason: null,
      crashed: false,
      users,
      exited: Promise.all([vault.exited, harness.exited]).then(() => undefined),
      log,
    };
    this.sandboxes.set(ref, sandbox);
    for (const name of ['vault', 'harness'] as const) {
      void processes[name].exited.then((exit) => this.onExit(sandbox, name, describeExit(exit)));
    }
    // Registry file: lets a later run find and stop processes left by a crash. No env, no secrets.
    // `pids` are the groups' leaders (the group ids); `started` their start times.
    const registry: Registry = {
      ref,
      tags,
      ports,
      pids: { vault: vault.pgid, harness: harness.pgid },
      started: {},
    };
    for (const name of ['vault', 'harness'] as const)
      registry.started[name] = processStartTime(processes[name].pgid);
    fs.writeFileSync(path.join(dir, 'sandbox.json'), JSON.stringify(registry), { mode: 0o600 });
    return { ref };
  }

  async describe(ref: string): Promise<SandboxState | null> {
    const s = this.sandboxes.get(ref);
    if (!s) return null;
    const running = !s.stoppedAt && !s.stopping;
    const crashed = s.crashed && !s.stopping;
    return {
      ref,
      lifecycle: s.stoppedAt ? 'stopped' : s.stopping ? 'stopping' : 'running',
      tags: s.tags,
      harnessUrl: running ? `http://127.0.0.1:${s.ports.harness}` : null,
      vaultAdminUrl: running ? `https://127.0.0.1:${s.ports.vaultAdmin}` : null,
      startedAt: s.startedAt,
      stoppedAt: s.stoppedAt,
      stopReason: s.stopReason,
      failure: crashed ? { code: 'essential_container_exited', message: s.stopReason! } : null,
    };
  }

  async stop(ref: string, reason: string): Promise<void> {
    const s = this.sandboxes.get(ref);
    if (!s || s.stoppedAt) return;
    if (!s.stopping) {
      s.stopping = true;
      s.stopReason ??= reason;
      await Promise.all(Object.values(s.processes).map((group) => group.stop(STOP_GRACE_MS)));
    }
    await s.exited;
  }

  async listByTags(tags: Partial<SandboxTags>): Promise<SandboxState[]> {
    const matches = [...this.sandboxes.values()].filter(
      (s) =>
        !s.stoppedAt &&
        Object.entries(tags).every(([k, v]) => v === undefined || s.tags[k as keyof SandboxTags] === v),
    );
    return (await Promise.all(matches.map((s) => this.describe(s.ref)))).filter(
      (s): s is SandboxState => !!s,
    );
  }

  async recentLogs(ref: string, limit: number): Promise<string[]> {
    const s = this.sandboxes.get(ref);
    const dir = s?.dir ?? path.join(this.options.dataDir, 'sandboxes', ref.replace(/^local:/, ''));
    return readLogTail(path.join(dir, 'sandbox.log'), limit);
  }

  /** Stops every sandbox this launcher started (local mode shutdown). */
  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.sandboxes.keys()].map((ref) => this.stop(ref, reason)));
  }

  /**
   * Kills the process groups a previous run left behind, found through their registry files
   * (a group is killed only if its leader is still the process that was recorded).
   */
  stopLeftovers(): number {
    const root = path.join(this.options.dataDir, 'sandboxes');
    let killed = 0;
    if (!fs.existsSync(root)) return 0;
    for (const id of fs.readdirSync(root)) {
      if (this.sandboxes.has(`local:${id}`)) continue;
      const file = path.join(root, id, 'sandbox.json');
      if (fs.existsSync(file)) {
        try {
          const { pids, started } = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Registry>;
          for (const [name, pgid] of Object.entries(pids ?? {})) {
            // Gone, or the id now belongs to another process: not ours to kill.
            if ((started?.[name] ?? null) !== processStartTime(pgid)) continue;
            try {
              process.kill(-pgid, 'SIGKILL');
              killed++;
            } catch {
              // already gone
            }
          }
        } catch {
          // unreadable registry file: nothing to stop
        }
        fs.rmSync(file, { force: true });
      }
      // What an earlier run left is nobody's but root's: its ids may be drawn again.
      if (this.isolation.separated) lockSandboxFolder(path.join(root, id));
    }
    return killed;
  }

  private spawnProcess(
    name: Container,
    nodeArgs: string[],
    env: Record<string, string>,
    cwd: string,
    log: fs.WriteStream,
    user: { uid: number; gid: number } | null,
  ): ProcessGroup {
    const write = (line: string) => {
      if (!log.writableEnded) log.write(`${new Date().toISOString()} [${name}] ${line}\n`);
    };
    const group = spawnProcessGroup(process.execPath, nodeArgs, {
      cwd,
      env,
      label: `lap-sandbox-${name}`,
      ...(user ?? {}),
    });
    // The launcher's own line: when the process started (`npm run bench:sandbox` reads it).
    write(`[launcher] started, process group ${group.pgid}`);
    for (const stream of [group.stdout, group.stderr])
      readline.createInterface({ input: stream }).on('line', write);
    return group;
  }

  private onExit(s: LocalSandbox, name: Container, how: string): void {
    if (!s.stopping && !s.stopReason) {
      // An essential container died on its own: the whole sandbox goes, like an ECS task.
      s.stopReason = `${name} ${how}`;
      s.crashed = true;
      for (const [other, group] of Object.entries(s.processes))
        if (other !== name) void group.stop(STOP_GRACE_MS);
    }
    const all = Object.values(s.processes).every((group) => !group.running);
    if (all && !s.stoppedAt) {
      s.stoppedAt = new Date();
      s.log.end();
      fs.rmSync(path.join(s.dir, 'sandbox.json'), { force: true });
      if (s.users) lockSandboxFolder(s.dir);
      if (!s.stopping && this.options.onUnexpectedStop)
        void this.describe(s.ref).then((state) => state && this.options.onUnexpectedStop!(state));
    }
  }
}

/** `sandbox.json` while the sandbox runs. */
interface Registry {
  ref: string;
  tags: SandboxTags;
  ports: LocalSandbox['ports'];
  /** Each process group's id (its leader's pid). */
  pids: Record<string, number>;
  /** Each leader's start time (Linux: /proc/<pid>/stat field 22), so a reused id is never killed. */
  started: Record<string, string | null>;
}

/** When a process started, in clock ticks since boot; null when unknown (gone, or no /proc). */
function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
