import { isUuid, type Queryable } from './pool';

export interface MemoryRecord {
  id: string;
  agent_id: string;
  text: string;
  tags: string[];
  type: string | null;
  priority: number;
  source: 'agent' | 'slack' | 'ui';
  disabled: boolean;
  times_applied: number;
  last_applied_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const MEMORY_COLUMNS = `id, agent_id, text, tags, type, priority, source, disabled, times_applied,
  last_applied_at, created_at, updated_at`;
// Highest priority first; among equals, the older memory first (stable order).
const MEMORY_ORDER = 'priority DESC, created_at, id';

export async function insertMemory(
  db: Queryable,
  memory: Pick<MemoryRecord, 'agent_id' | 'text' | 'tags' | 'type' | 'priority' | 'source'>,
): Promise<MemoryRecord> {
  const { rows } = await db.query<MemoryRecord>(
    `INSERT INTO memories (agent_id, text, tags, type, priority, source)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${MEMORY_COLUMNS}`,
    [memory.agent_id, memory.text, memory.tags, memory.type, memory.priority, memory.source],
  );
  return rows[0];
}

/**
 * The agent's memories matching the filters (substring of text, case-insensitive;
 * exact tag), disabled ones only when asked for. Reading counts as applying: every returned memory gets
 * times_applied + 1 and last_applied_at = now(), in the same statement.
 */
export async function readMemories(
  db: Queryable,
  agentId: string,
  filter: { q?: string; tag?: string; include_disabled?: boolean },
): Promise<MemoryRecord[]> {
  const { rows } = await db.query<MemoryRecord>(
    `WITH applied AS (
       UPDATE memories SET times_applied = times_applied + 1, last_applied_at = now()
        WHERE agent_id = $1
          AND ($2::text IS NULL OR strpos(lower(text), lower($2)) > 0)
          AND ($3::text IS NULL OR $3 = ANY (tags))
          AND ($4 OR NOT disabled)
        RETURNING ${MEMORY_COLUMNS})
     SELECT * FROM applied ORDER BY ${MEMORY_ORDER}`,
    [agentId, filter.q ?? null, filter.tag ?? null, filter.include_disabled === true],
  );
  return rows;
}

/** Enabled memories, highest priority first, without counting a read (prompt building reads them this way). */
export async function listEnabledMemories(db: Queryable, agentId: string): Promise<MemoryRecord[]> {
  const { rows } = await db.query<MemoryRecord>(
    `SELECT ${MEMORY_COLUMNS} FROM memories WHERE agent_id = $1 AND NOT disabled ORDER BY ${MEMORY_ORDER}`,
    [agentId],
  );
  return rows;
}

/** Counts the memories as applied to a session (its boot spec included them). */
export async function markMemoriesApplied(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    'UPDATE memories SET times_applied = times_applied + 1, last_applied_at = now() WHERE id = ANY($1::uuid[])',
    [ids],
  );
}

export type MemoryChanges = Partial<
  Pick<MemoryRecord, 'text' | 'tags' | 'type' | 'priority' | 'source' | 'disabled'>
>;

const UPDATABLE_COLUMNS = new Set<string>([
  'text',
  'tags',
  'type',
  'priority',
  'source',
  'disabled',
] satisfies (keyof MemoryChanges)[]);

/** null when the memory does not exist or belongs to another agent. */
export async function updateMemory(
  db: Queryable,
  agentId: string,
  id: string,
  changes: MemoryChanges,
): Promise<MemoryRecord | null> {
  if (!isUuid(id)) return null;
  // Column names are interpolated: only the known ones ever reach the SQL text.
  const entries = Object.entries(changes).filter(
    ([column, value]) => value !== undefined && UPDATABLE_COLUMNS.has(column),
  );
  const assignments = entries.map(([column], i) => `${column} = $${i + 3}`);
  const set = assignments.length > 0 ? `${assignments.join(', ')}, updated_at = now()` : 'id = id';
  const { rows } = await db.query<MemoryRecord>(
    `UPDATE memories SET ${set} WHERE agent_id = $1 AND id = $2 RETURNING ${MEMORY_COLUMNS}`,
    [agentId, id, ...entries.map(([, value]) => value)],
  );
  return rows[0] ?? null;
}

export async function deleteMemory(db: Queryable, agentId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await db.query('DELETE FROM memories WHERE agent_id = $1 AND id = $2', [agentId, id]);
  return rowCount === 1;
}
