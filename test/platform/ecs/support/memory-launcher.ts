import crypto from 'node:crypto';
import type {
  SandboxLaunchResult,
  SandboxLaunchSpec,
  SandboxLauncher,
  SandboxState,
  SandboxTags,
} from '../../../../platform/src/sandbox/launcher';

/** An in-memory SandboxLauncher: every task it ever started, and which ones were stopped (and why). */
export class MemoryLauncher implements SandboxLauncher {
  readonly tasks = new Map<
    string,
    { spec: SandboxLaunchSpec; tags: SandboxTags; stoppedReason: string | null }
  >();
  readonly stops: Array<{ ref: string; reason: string }> = [];

  constructor(private readonly environment = 'test') {}

  async launch(spec: SandboxLaunchSpec): Promise<SandboxLaunchResult> {
    const ref = `arn:aws:ecs:us-east-1:000000000000:task/lap/${crypto.randomBytes(8).toString('hex')}`;
    this.tasks.set(ref, {
      spec,
      stoppedReason: null,
      tags: {
        'lap:sandbox-id': spec.sandboxId,
        'lap:kind': spec.kind,
        'lap:agent-id': spec.agentId,
        'lap:environment': this.environment,
      },
    });
    return { ref };
  }

  /** Adds a task started outside this launcher's callers (e.g. by a crashed process). */
  adopt(tags: SandboxTags): string {
    const ref = `arn:aws:ecs:us-east-1:000000000000:task/lap/${crypto.randomBytes(8).toString('hex')}`;
    this.tasks.set(ref, { spec: {} as SandboxLaunchSpec, tags, stoppedReason: null });
    return ref;
  }

  async describe(ref: string): Promise<SandboxState | null> {
    const task = this.tasks.get(ref);
    if (!task) return null;
    const running = task.stoppedReason === null;
    return {
      ref,
      lifecycle: running ? 'running' : 'stopped',
      tags: task.tags,
      harnessUrl: running ? 'http://10.0.0.1:4096' : null,
      vaultAdminUrl: running ? 'https://10.0.0.1:14323' : null,
      startedAt: new Date(),
      stoppedAt: running ? null : new Date(),
      stopReason: task.stoppedReason,
      failure: null,
    };
  }

  async stop(ref: string, reason: string): Promise<void> {
    this.stops.push({ ref, reason });
    const task = this.tasks.get(ref);
    if (task && task.stoppedReason === null) task.stoppedReason = reason;
  }

  async listByTags(wanted: Partial<SandboxTags>): Promise<SandboxState[]> {
    const out: SandboxState[] = [];
    for (const ref of this.tasks.keys()) {
      const state = (await this.describe(ref))!;
      if (state.lifecycle !== 'running') continue;
      if (Object.entries(wanted).every(([k, v]) => state.tags[k as keyof SandboxTags] === v)) out.push(state);
    }
    return out;
  }

  async recentLogs(): Promise<string[]> {
    return [];
  }

  running(): string[] {
    return [...this.tasks.entries()].filter(([, t]) => t.stoppedReason === null).map(([ref]) => ref);
  }
}
