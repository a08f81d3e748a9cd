/**
 * Local mode's sandboxes are processes of the platform process: they end with it (a
 * clean stop stops them, a crash leaves them to be killed at the next start). So at
 * start and at shutdown, whatever they served ends: processes a crashed run left are
 * killed, ready sessions die and live warm sandboxes too, so a new session is never
 * handed a sandbox that died with the old process. Sessions still creating are left
 * to their bring-up jobs, which replace a sandbox the launcher does not know.
 */
import type pg from 'pg';
import { markAllLiveWarmSandboxesDead } from '../db/warm-pool';
import { endReadySessions } from '../lifecycle/session-states';
import type { Logger } from '../logger';
import type { LocalSandboxLauncher } from '../sandbox/local/local-launcher';

export const SANDBOX_ENDED_REASON = 'local mode stopped: its sandboxes were stopped';
const RESTART_REASON = 'local mode restarted: its sandboxes ended with the previous run';

export async function endWhatDiedWithTheLastRun(
  deps: { db: pg.Pool; launcher: Pick<LocalSandboxLauncher, 'stopLeftovers'>; log: Logger },
  reason = RESTART_REASON,
): Promise<{ killedProcesses: number; endedSessions: number; endedWarmSandboxes: number }> {
  const killedProcesses = deps.launcher.stopLeftovers();
  const sessions = await endReadySessions(deps.db, reason);
  const warm = await markAllLiveWarmSandboxesDead(deps.db, reason);
  const result = { killedProcesses, endedSessions: sessions.length, endedWarmSandboxes: warm.length };
  if (killedProcesses || sessions.length || warm.length)
    deps.log.info(result, 'ended what the last run left');
  return result;
}
