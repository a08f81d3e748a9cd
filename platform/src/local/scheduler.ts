/**
 * Local mode's stand-in for EventBridge Scheduler: runs each periodic task (warm
 * pool pass, idle reaper) on its own interval, never two runs of one task at once.
 */
import type { Logger } from '../logger';

export interface PeriodicTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export class LocalScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly log: Logger) {}

  start(tasks: PeriodicTask[]): void {
    for (const task of tasks) {
      let busy = false;
      const tick = () => {
        if (busy) return;
        busy = true;
        const run = task
          .run()
          .then((result) => this.log.debug({ task: task.name, result }, 'scheduled task done'))
          .catch((err: Error) =>
            this.log.error({ task: task.name, err: { message: err.message } }, 'scheduled task failed'),
          )
          .finally(() => {
            busy = false;
            this.running.delete(run);
          });
        this.running.add(run);
      };
      this.timers.push(setInterval(tick, task.everyMs));
      setImmediate(tick);
    }
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.running]);
  }
}
