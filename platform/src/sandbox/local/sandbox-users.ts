/**
 * Local sandboxes as users of their own (Linux, platform running as root): each sandbox's
 * vault and harness run under two numeric uids nobody else has (no passwd entries needed)
 * and share one gid of their own, so
 *   - neither can read the other's /proc/<pid>/environ (the vault's holds the real values),
 *     nor any other sandbox's, nor the platform's (MASTER_KEY): environ is readable only by
 *     the same user;
 *   - no sandbox can signal or trace another's processes, or the platform's;
 *   - the platform's files (local-secrets.json, ca/, postgres/: root or `postgres`, 0600/0700)
 *     and the other sandboxes' folders are closed to them.
 * The network stays shared (loopback): a sandbox can connect to another's ports, where the
 * harness and the vault admin endpoint take only tokens it cannot read.
 *
 * Where that is impossible (not Linux, not root, or the programs not reachable by other
 * users) the sandboxes run as the platform's own user and are no security boundary; the
 * reason is given once (`isolationProblem`).
 *
 * Folder of a sandbox, isolated:
 *   <id>/            root:<gid> 0710   (the platform's sandbox.log and sandbox.json stay root's)
 *   <id>/ca.pem      root:<gid> 0640   the deployment CA certificate (the harness trusts it)
 *   <id>/env/        vault:<gid> 0750  the stub env file the vault writes for the harness
 *   <id>/vault/      vault 0700        the vault's HOME and TMPDIR
 *   <id>/home/, workspace/, tmp/   harness 0700
 * When the sandbox stops, its folder goes back to root (0700), so a later sandbox drawn the
 * same ids cannot reach what this one left.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The ids are drawn from [BASE, BASE + 2 * SLOTS): far above system and container (subuid) ranges. */
const BASE = 1_610_000_000;
const SLOTS = 1 << 20;

export interface SandboxUsers {
  vaultUid: number;
  harnessUid: number;
  /** The sandbox's own group: both processes' primary group. */
  gid: number;
}

/**
 * Why sandboxes cannot run as users of their own here, or null when they can. `paths`: what
 * the sandbox users must reach (the programs they run, the data directory their folders are in).
 */
export function isolationProblem(paths: string[]): string | null {
  if (process.platform !== 'linux') return `${process.platform} is not Linux`;
  if (process.getuid?.() !== 0) return 'the platform does not run as root';
  for (const target of paths) {
    const blocked = firstClosedFolder(target);
    if (blocked) return `${blocked} is closed to other users (sandbox users could not reach ${target})`;
  }
  return null;
}

/** The first folder on the way to `target` that other users cannot pass (no o+x), or null. */
function firstClosedFolder(target: string): string | null {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    // A folder not made yet is made by the platform, passable where it must be (prepareSandboxFolder).
    if (fs.existsSync(dir) && (fs.statSync(dir).mode & 0o001) === 0) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Fresh ids for one sandbox: a random slot whose ids no process on this machine runs as. */
export function drawSandboxUsers(): SandboxUsers {
  const taken = uidsInUse();
  for (;;) {
    const base = BASE + 2 * crypto.randomInt(SLOTS);
    if (!taken.has(base) && !taken.has(base + 1)) return { vaultUid: base, harnessUid: base + 1, gid: base };
  }
}

/** Real and effective uids of every process (/proc/<pid>/status). */
function uidsInUse(): Set<number> {
  const uids = new Set<number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const line = /^Uid:\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (line) for (const uid of line.slice(1)) uids.add(Number(uid));
    } catch {
      // gone meanwhile
    }
  }
  return uids;
}

export interface SandboxFolders {
  home: string;
  workspace: string;
  /** The folder the vault writes the stub env file into. */
  env: string;
  /** Isolated only: the vault's HOME/TMPDIR, the harness's TMPDIR, the CA certificate copy. */
  vault?: string;
  tmp?: string;
  caCert?: string;
}

/** Creates the sandbox's folder; with users, owned and closed as in the module comment. */
export function prepareSandboxFolder(
  dir: string,
  users: SandboxUsers | null,
  caCertPath: string,
): SandboxFolders {
  const sub = (name: string) => path.join(dir, name);
  const folders: SandboxFolders = { home: sub('home'), workspace: sub('workspace'), env: sub('env') };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const folder of [folders.home, folders.workspace, folders.env])
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (!users) return folders;

  // The way in: the data directory and sandboxes/ can be passed, not listed.
  for (const passable of [path.dirname(dir), path.dirname(path.dirname(dir))])
    fs.chmodSync(passable, fs.statSync(passable).mode | 0o111);
  fs.chownSync(dir, 0, users.gid);
  fs.chmodSync(dir, 0o710);
  folders.vault = sub('vault');
  folders.tmp = sub('tmp');
  folders.caCert = sub('ca.pem');
  fs.copyFileSync(caCertPath, folders.caCert);
  own(folders.caCert, 0, users.gid, 0o640);
  fs.mkdirSync(folders.vault, { recursive: true });
  fs.mkdirSync(folders.tmp, { recursive: true });
  own(folders.env, users.vaultUid, users.gid, 0o750);
  own(folders.vault, users.vaultUid, users.gid, 0o700);
  for (const folder of [folders.home, folders.workspace, folders.tmp])
    own(folder, users.harnessUid, users.gid, 0o700);
  // Launched again after a platform restart, under new ids: what the old ones left becomes theirs.
  for (const [folder, uid] of [
    [folders.vault, users.vaultUid],
    [folders.home, users.harnessUid],
    [folders.workspace, users.harnessUid],
    [folders.tmp, users.harnessUid],
  ] as const)
    ownContents(folder, uid, users.gid);
  return folders;
}

function ownContents(folder: string, uid: number, gid: number): void {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const file = path.join(folder, entry.name);
    const stat = fs.lstatSync(file);
    if (stat.uid === uid && stat.gid === gid) continue;
    fs.lchownSync(file, uid, gid);
    if (entry.isDirectory()) ownContents(file, uid, gid);
  }
}

function own(file: string, uid: number, gid: number, mode: number): void {
  fs.chownSync(file, uid, gid);
  fs.chmodSync(file, mode);
}

/** After the sandbox: its folder is root's alone again (what it left stays for diagnosis). */
export function lockSandboxFolder(dir: string): void {
  try {
    fs.chownSync(dir, 0, 0);
    fs.chmodSync(dir, 0o700);
  } catch {
    // removed already
  }
}
