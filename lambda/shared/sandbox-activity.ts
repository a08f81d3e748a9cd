/**
 * What lets an idle environment's database pause (Aurora with a 0 ACU minimum pauses only
 * after minutes without any connection): the scheduled functions first ask ECS, which costs
 * nothing and keeps no connection, whether any sandbox of this environment runs, and touch the
 * database only when one does. Nothing the warm pool or the reaper acts on exists without a
 * running sandbox task, except rows left behind by a crash, which the reaper's daily full pass
 * sweeps.
 */
import type { SandboxLauncher } from '../../platform/src/sandbox/launcher';

/**
 * Whether any sandbox task of this environment is running or starting. `listByTags({})` pages
 * ECS ListTasks (100 tasks a page) and describes what it found with DescribeTasks (100 a call):
 * one ListTasks call and nothing else when none runs.
 */
export async function sandboxesRunning(launcher: SandboxLauncher): Promise<boolean> {
  return (await launcher.listByTags({})).length > 0;
}

/**
 * Whether this run of a schedule firing every `everyMinutes` is the day's first after 00:00 UTC:
 * exactly one run a day answers yes, whatever the schedule's offset.
 */
export function isDailyPass(now: Date, everyMinutes: number): boolean {
  return now.getUTCHours() * 60 + now.getUTCMinutes() < everyMinutes;
}
