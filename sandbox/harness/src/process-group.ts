/**
 * Child programs that can never outlive the process that started them.
 *
 * Each program runs under a small `/bin/sh` guard that leads a process group of its own
 * (detached), so one signal to the group reaches the program and everything it spawned.
 * The guard's stdin is a pipe from us that is never written: when we die, however we die
 * (SIGKILL and the OOM killer included), the kernel closes it, the guard reads EOF and
 * SIGKILLs its whole group. On the exit paths we control (stop(), SIGTERM handlers,
 * process.exit, an uncaught exception) the group is signalled directly as well.
 *
 * Why a guard and not prctl(PR_SET_PDEATHSIG): Node cannot set it, a wrapper such as
 * `setpriv --pdeathsig` only covers the direct child (not what the agent spawns: shells,
 * language servers, npm), it fires on the death of the parent *thread*, and it is
 * Linux-only. The pipe needs nothing but /bin/sh and works wherever Node does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Readable } from 'node:stream';

// $0 is a label, "$@" the program. fd 4 keeps the lifeline (our stdin pipe); the program gets
// /dev/null as stdin and neither the lifeline nor fd 3, on which the guard reports the
// program's pid. The guard ignores SIGTERM/SIGINT/SIGHUP (set after the program started, so
// the program keeps the default handling): a stop signals the group, the program shuts
// down, and the guard reports its exit status (128 + n for a signal) when it is gone.
const GUARD = [
  'exec 4<&0 0</dev/null',
  '"$@" 3>&- 4<&- &',
  'program=$!',
  'echo "$program" >&3',
  'exec 3>&-',
  '(while read -r _ <&4; do :; done; kill -9 0) &',
  'watcher=$!',
  'exec 4<&-',
  "trap '' TERM INT HUP",
  'wait "$program"; status=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

export interface ProgramExit {
  /** The program's exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnGroupOptions {
  cwd: string;
  env: Record<string, string>;
  /** Shown in `ps` as the guard's name. */
  label?: string;
  /** Run the guard and the program as this user and group (the caller must be root). */
  uid?: number;
  gid?: number;
}

/** Every group started by this process and not yet known to be gone: killed on exit. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs on process.exit() and after an uncaught exception; synchronous only.
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroupId(pgid, 'SIGKILL');
  });
}

function signalGroupId(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers a process group started some other way (node-pty makes the terminal program the
 * leader of a session of its own) so it is killed with the rest if this process exits.
 * Returns the function that forgets it (call it once the group is gone).
 */
export function killGroupOnExit(pgid: number): () => void {
  installExitHook();
  liveGroups.add(pgid);
  return () => liveGroups.delete(pgid);
}

/** Signals a whole process group; false when it is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  return signalGroupId(pgid, signal);
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

/** 128 + n from the guard's `wait`: the program died of signal n. */
function decodeExit(code: number | null, signal: NodeJS.Signals | null): ProgramExit {
  if (signal) return { code: null, signal };
  if (code !== null && code > 128) {
    const name = Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name) return { code: null, signal: name as NodeJS.Signals };
  }
  return { code, signal: null };
}

/** "exited with code 1" / "exited with signal SIGKILL". */
export function describeExit(exit: ProgramExit): string {
  return exit.signal ? `exited with signal ${exit.signal}` : `exited with code ${exit.code}`;
}

export class ProcessGroup {
  /** The guard: leader of the group, so its pid is the group id. */
  readonly child: ChildProcess;
  readonly pgid: number;
  /** Resolves when the program has exited (the guard reports it) and its group was killed. */
  readonly exited: Promise<ProgramExit>;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The program's own pid (the guard's child), once the guard reported it. */
  readonly programPid: Promise<number | null>;
  private exit: ProgramExit | null = null;
  private paused = false;

  constructor(command: string, args: string[], options: SpawnGroupOptions) {
    installExitHook();
    const child = spawn('/bin/sh', ['-c', GUARD, options.label ?? 'lap-guard', command, ...args], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    if (child.pid === undefined) throw new Error(`cannot start ${command}: /bin/sh did not start`);
    this.child = child;
    this.pgid = child.pid;
    this.stdout = child.stdout!;
    this.stderr = child.stderr!;
    liveGroups.add(this.pgid);
    const report = child.stdio[3] as Readable;
    this.programPid = new Promise((resolve) => {
      let text = '';
      report.on('data', (chunk: Buffer) => (text += chunk.toString()));
      report.on('close', () => resolve(Number(text.trim()) || null));
      report.on('error', () => resolve(null));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = decodeExit(code, signal);
        // Whatever the program left behind in its group goes with it. Then the id is
        // forgotten: once the group is empty the number may be reused by someone else.
        signalGroupId(this.pgid, 'SIGKILL');
        liveGroups.delete(this.pgid);
        resolve(this.exit);
      });
    });
    // Our lifeline end: never written, never ended; an error on it means the guard is gone.
    child.stdin!.on('error', () => undefined);
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Signals every process of the group (nothing once the program has exited). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) signalGroupId(this.pgid, signal);
  }

  /**
   * Stops (SIGSTOP) the program itself, not its group: what it started keeps running, and so
   * does the guard, which must still see the lifeline close. resume() continues it.
   */
  async pause(): Promise<void> {
    const pid = await this.programPid;
    if (pid === null || !this.running || this.paused) return;
    this.paused = true;
    signalProcess(pid, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    const pid = await this.programPid;
    if (pid !== null) signalProcess(pid, 'SIGCONT');
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the program is gone. */
  async stop(graceMs = 5000): Promise<ProgramExit> {
    // A stopped program would only see the SIGTERM once continued.
    await this.resume();
    this.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    this.kill('SIGKILL');
    return this.exited;
  }
}

/** Runs `command` in a process group of its own that dies with this process (see above). */
export function spawnProcessGroup(command: string, args: string[], options: SpawnGroupOptions): ProcessGroup {
  return new ProcessGroup(command, args, options);
}
