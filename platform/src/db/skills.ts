import { touchAgent } from './agents';
import { isUuid, type Queryable } from './pool';

export interface SkillRecord {
  id: string;
  name: string;
  description: string | null;
  content: string;
  created_at: Date;
  updated_at: Date;
}

/** An agent's own copy of a skill, made when it was attached. */
export interface AgentSkillRecord {
  agent_id: string;
  skill_id: string;
  position: number;
  name: string;
  description: string | null;
  content: string;
  attached_at: Date;
}

const SKILL_COLUMNS = 'id, name, description, content, created_at, updated_at';

export async function insertSkill(
  db: Queryable,
  skill: { name: string; description: string | null; content: string },
): Promise<SkillRecord> {
  const { rows } = await db.query<SkillRecord>(
    `INSERT INTO skills (name, description, content) VALUES ($1, $2, $3) RETURNING ${SKILL_COLUMNS}`,
    [skill.name, skill.description, skill.content],
  );
  return rows[0];
}

export async function getSkill(db: Queryable, id: string): Promise<SkillRecord | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<SkillRecord>(`SELECT ${SKILL_COLUMNS} FROM skills WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The skills with these ids, in the order of the ids; ids with no skill are left out. */
export async function getSkills(db: Queryable, ids: string[]): Promise<SkillRecord[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const { rows } = await db.query<SkillRecord>(
    `SELECT ${SKILL_COLUMNS} FROM skills WHERE id = ANY($1::uuid[])`,
    [valid],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return valid.flatMap((id) => byId.get(id.toLowerCase()) ?? []);
}

/** Newest first. */
export async function listSkills(
  db: Queryable,
  page: { limit: number; offset: number },
): Promise<{ skills: SkillRecord[]; total: number }> {
  const { rows } = await db.query<SkillRecord & { total: number }>(
    `SELECT ${SKILL_COLUMNS}, count(*) OVER ()::int AS total FROM skills
      ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`,
    [page.limit, page.offset],
  );
  if (rows.length > 0 || page.offset === 0) {
    return { skills: rows.map(({ total: _total, ...skill }) => skill), total: rows[0]?.total ?? 0 };
  }
  const count = await db.query<{ total: number }>('SELECT count(*)::int AS total FROM skills');
  return { skills: [], total: count.rows[0].total };
}

export async function updateSkill(
  db: Queryable,
  id: string,
  changes: Partial<Pick<SkillRecord, 'name' | 'description' | 'content'>>,
): Promise<SkillRecord | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<SkillRecord>(
    `UPDATE skills SET
       name = CASE WHEN $2 THEN $3 ELSE name END,
       description = CASE WHEN $4 THEN $5 ELSE description END,
       content = CASE WHEN $6 THEN $7 ELSE content END,
       updated_at = CASE WHEN $2 OR $4 OR $6 THEN now() ELSE updated_at END
     WHERE id = $1 RETURNING ${SKILL_COLUMNS}`,
    [
      id,
      changes.name !== undefined,
      changes.name ?? null,
      changes.description !== undefined,
      changes.description ?? null,
      changes.content !== undefined,
      changes.content ?? null,
    ],
  );
  return rows[0] ?? null;
}

/** Agents that embed the skill keep their copy. */
export async function deleteSkill(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await db.query('DELETE FROM skills WHERE id = $1', [id]);
  return rowCount === 1;
}

/**
 * Embeds a copy of the skill in the agent, after its other skills. Attaching an
 * attached skill again refreshes the copy and keeps its place. Call with the agent
 * row locked (lockAgent) so concurrent attaches get distinct positions.
 */
export async function attachSkill(
  db: Queryable,
  agentId: string,
  skill: { id: string; name: string; description: string | null; content: string },
): Promise<void> {
  await db.query(
    `INSERT INTO agent_skills (agent_id, skill_id, position, name, description, content)
     VALUES ($1, $2, (SELECT coalesce(max(position), 0) + 1 FROM agent_skills WHERE agent_id = $1), $3, $4, $5)
     ON CONFLICT (agent_id, skill_id) DO UPDATE
       SET name = EXCLUDED.name, description = EXCLUDED.description, content = EXCLUDED.content`,
    [agentId, skill.id, skill.name, skill.description, skill.content],
  );
  await touchAgent(db, agentId);
}

/** Detaches one skill, or all of them when skillId is undefined; returns how many were detached. */
export async function detachSkills(db: Queryable, agentId: string, skillId?: string): Promise<number> {
  if (skillId !== undefined && !isUuid(skillId)) return 0;
  const { rowCount } = await db.query(
    'DELETE FROM agent_skills WHERE agent_id = $1 AND ($2::uuid IS NULL OR skill_id = $2::uuid)',
    [agentId, skillId ?? null],
  );
  if (rowCount) await touchAgent(db, agentId);
  return rowCount ?? 0;
}

/** The agent's embedded skills in attach order (system prompt blocks, SKILL.md files). */
export async function listAgentSkills(db: Queryable, agentId: string): Promise<AgentSkillRecord[]> {
  const { rows } = await db.query<AgentSkillRecord>(
    `SELECT agent_id, skill_id::text AS skill_id, position, name, description, content, attached_at
       FROM agent_skills WHERE agent_id = $1 ORDER BY position`,
    [agentId],
  );
  return rows;
}
