import type { Queryable } from './pool';

export const SESSION_STATUSES = ['creating', 'ready', 'dead', 'failed'] as const;
export const WARM_STATUSES = ['provisioning', 'warm', 'claimed', 'dead'] as const;

export type SessionCounts = Record<(typeof SESSION_STATUSES)[number], number>;
export type WarmPoolCounts = Record<(typeof WARM_STATUSES)[number], number>;

export interface PlatformStats {
  sessions: SessionCounts & { total: number };
  warm_pool: WarmPoolCounts & { by_agent: Record<string, WarmPoolCounts> };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Sessions by status, and the warm pool by status, overall and per agent. */
export async function readPlatformStats(db: Queryable): Promise<PlatformStats> {
  const [sessions, warm] = await Promise.all([
    db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM sessions GROUP BY status',
    ),
    db.query<{ agent_id: string; status: string; n: number }>(
      'SELECT agent_id, status, count(*)::int AS n FROM warm_sandboxes GROUP BY agent_id, status',
    ),
  ]);
  const sessionCounts = { ...zeroes(SESSION_STATUSES), total: 0 };
  for (const row of sessions.rows) {
    sessionCounts[row.status as keyof SessionCounts] = row.n;
    sessionCounts.total += row.n;
  }
  const pool = { ...zeroes(WARM_STATUSES), by_agent: {} as Record<string, WarmPoolCounts> };
  for (const row of warm.rows) {
    const status = row.status as keyof WarmPoolCounts;
    pool[status] += row.n;
    pool.by_agent[row.agent_id] ??= zeroes(WARM_STATUSES);
    pool.by_agent[row.agent_id][status] = row.n;
  }
  return { sessions: sessionCounts, warm_pool: pool };
}
