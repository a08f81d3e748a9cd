/**
 * A sandbox that stopped on its own (its process or task exited) ends what it
 * served: a ready session becomes dead with the stop reason, a warm sandbox dead.
 * A session still creating is left to its bring-up job, which sees the stop and
 * fails the session with the launcher's classified failure.
 */
import type pg from 'pg';
import { getSession, markSessionDead } from '../db/sessions';
import type { SandboxState } from '../sandbox/launcher';
import type { WarmPool } from '../sandbox/warm-pool-port';
import type { Logger } from './logger';

export async function endWhatSandboxServed(
  deps: { db: pg.Pool; warmPool: WarmPool; log: Logger },
  state: SandboxState,
): Promise<void> {
  const id = state.tags['lap:sandbox-id'];
  if (!id) return;
  const reason = `sandbox stopped: ${state.failure?.message ?? state.stopReason ?? 'unknown reason'}`;
  if (state.tags['lap:kind'] === 'warm') {
    await deps.warmPool.markDead(id, reason);
    const claimedBy = (await deps.warmPool.find(id))?.sessionId;
    if (claimedBy) await markSessionDead(deps.db, claimedBy, reason);
    return;
  }
  const session = await getSession(deps.db, id);
  if (session?.status === 'ready' && (await markSessionDead(deps.db, id, reason)))
    deps.log.warn({ session_id: id, reason }, 'session ended: its sandbox stopped');
}
