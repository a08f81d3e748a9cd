import type { HarnessId } from '@lap/sandbox-protocol';
import type { EnvVarHosts } from '../validation/env-var-hosts';
import type { SandboxFile } from '../validation/sandbox-files';
import { isUuid, type Queryable } from './pool';

/** One agents row, plus the ids of its attached skills in attach order. */
export interface AgentRecord {
  id: string;
  name: string | null;
  model: string;
  prompt: string | null;
  harness_id: HarnessId;
  harness_image: string | null;
  repo_url: string | null;
  branch: string;
  requirements: string | null;
  mcp_servers: string[];
  env_var_keys: string[];
  env_vars_ciphertext: string | null;
  /** Credential bindings by env var key (migration 030); not secret. */
  env_var_hosts: EnvVarHosts;
  litellm_api_base: string | null;
  litellm_api_key_ciphertext: string | null;
  allow_out: string[];
  deny_out: string[];
  sandbox_files: SandboxFile[];
  pfp_url: string | null;
  /** Free text the upstream clients send and show (the SDK's templateId); nothing reads it. */
  template_id: string | null;
  created_at: Date;
  updated_at: Date;
  attached_skill_ids: string[];
  /** The agent's copies of its skills in attach order (the prompt shows them as blocks). */
  attached_skills: Array<{ skill_id: string; content: string }>;
}

export type NewAgent = Omit<
  AgentRecord,
  'created_at' | 'updated_at' | 'attached_skill_ids' | 'attached_skills' | 'harness_image'
>;

/** Columns PATCH may change (the route maps API fields onto these). */
export type AgentChanges = Partial<
  Pick<
    AgentRecord,
    | 'name'
    | 'prompt'
    | 'model'
    | 'branch'
    | 'pfp_url'
    | 'mcp_servers'
    | 'env_var_keys'
    | 'env_vars_ciphertext'
    | 'env_var_hosts'
    | 'harness_image'
    | 'allow_out'
    | 'deny_out'
    | 'sandbox_files'
  >
>;

const UPDATABLE_COLUMNS = new Set<string>([
  'name',
  'prompt',
  'model',
  'branch',
  'pfp_url',
  'mcp_servers',
  'env_var_keys',
  'env_vars_ciphertext',
  'env_var_hosts',
  'harness_image',
  'allow_out',
  'deny_out',
  'sandbox_files',
] satisfies (keyof AgentChanges)[]);
const JSON_COLUMNS = new Set(['mcp_servers', 'sandbox_files', 'env_var_hosts']);

const AGENT_COLUMNS = `a.id, a.name, a.model, a.prompt, a.harness_id, a.harness_image, a.repo_url, a.branch,
  a.requirements, a.mcp_servers, a.env_var_keys, a.env_vars_ciphertext, a.env_var_hosts, a.litellm_api_base,
  a.litellm_api_key_ciphertext, a.allow_out, a.deny_out, a.sandbox_files, a.pfp_url, a.template_id, a.created_at,
  a.updated_at,
  ARRAY(SELECT s.skill_id::text FROM agent_skills s WHERE s.agent_id = a.id ORDER BY s.position) AS attached_skill_ids,
  (SELECT coalesce(json_agg(json_build_object('skill_id', s.skill_id::text, 'content', s.content) ORDER BY s.position),
     '[]'::json) FROM agent_skills s WHERE s.agent_id = a.id) AS attached_skills`;

export async function insertAgent(db: Queryable, agent: NewAgent): Promise<void> {
  await db.query(
    `INSERT INTO agents (id, name, model, prompt, harness_id, repo_url, branch, requirements, mcp_servers,
       env_var_keys, env_vars_ciphertext, litellm_api_base, litellm_api_key_ciphertext, allow_out, deny_out,
       sandbox_files, pfp_url, env_var_hosts, template_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
    [
      agent.id,
      agent.name,
      agent.model,
      agent.prompt,
      agent.harness_id,
      agent.repo_url,
      agent.branch,
      agent.requirements,
      JSON.stringify(agent.mcp_servers),
      agent.env_var_keys,
      agent.env_vars_ciphertext,
      agent.litellm_api_base,
      agent.litellm_api_key_ciphertext,
      agent.allow_out,
      agent.deny_out,
      JSON.stringify(agent.sandbox_files),
      agent.pfp_url,
      JSON.stringify(agent.env_var_hosts),
      agent.template_id,
    ],
  );
}

/**
 * Every change to what the API shows of an agent updates its row, which moves the
 * row version and the agent list version that the list caches key on. Skill
 * attach/detach call this in their own transaction.
 */
export async function touchAgent(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE agents SET updated_at = clock_timestamp() WHERE id = $1', [id]);
}

export async function getAgent(db: Queryable, id: string): Promise<AgentRecord | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<AgentRecord>({
    name: 'lap_get_agent',
    text: `SELECT ${AGENT_COLUMNS} FROM agents a WHERE a.id = $1`,
    values: [id],
  });
  return rows[0] ?? null;
}

/** Locks the agent row for the rest of the transaction (serialises skill attach positions); false if absent. */
export async function lockAgent(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await db.query('SELECT 1 FROM agents WHERE id = $1 FOR UPDATE', [id]);
  return rowCount === 1;
}

export type AgentSortKey = 'created_at' | 'name' | 'harness_id' | 'sessions';

export interface ListAgentsOptions {
  limit: number;
  offset: number;
  sort: AgentSortKey;
  order: 'asc' | 'desc';
  /** Case-insensitive substring of name, id or harness_id. */
  search?: string;
}

// ORDER BY per sort key and direction, always with the id as tiebreak so pages are
// stable. created_at (the default) follows agents_created_at_idx (created_at DESC, id),
// forwards or backwards, so a page is an index range scan and never a sort of all agents.
const ORDER_BY: Record<AgentSortKey, Record<'asc' | 'desc', string>> = {
  created_at: { desc: 'a.created_at DESC, a.id', asc: 'a.created_at, a.id DESC' },
  name: { desc: 'lower(a.name) DESC NULLS LAST, a.id DESC', asc: 'lower(a.name) NULLS LAST, a.id' },
  harness_id: { desc: 'a.harness_id DESC, a.id DESC', asc: 'a.harness_id, a.id' },
  sessions: {
    desc: '(SELECT count(*) FROM sessions x WHERE x.agent_id = a.id) DESC, a.id DESC',
    asc: '(SELECT count(*) FROM sessions x WHERE x.agent_id = a.id), a.id',
  },
};

const SEARCH_FILTER = `$1::text IS NULL
  OR strpos(lower(coalesce(a.name, '')), $1) > 0
  OR strpos(a.id::text, $1) > 0
  OR strpos(a.harness_id, $1) > 0`;

/**
 * The agent list's version: moved by every committed change to an agent (a trigger,
 * migration 020), so list pages rendered at one version stay right until it moves.
 */
export async function getAgentListVersion(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ version: string }>({
    name: 'lap_agent_list_version',
    text: 'SELECT version::text FROM agent_list_version',
  });
  return rows[0].version;
}

/**
 * An agent row's version: the transaction that wrote this row version (xmin, which any
 * UPDATE moves, even one made outside the API) and updated_at, so that xid wraparound
 * alone can never make two versions equal.
 */
const ROW_VERSION = `a.xmin::text || '/' || a.updated_at::text`;

/** A page entry: the agent id and its version (see ROW_VERSION). */
export interface AgentVersion {
  id: string;
  version: string;
}

/**
 * The page as ids and versions only, plus the total: narrow rows the API turns into
 * a response from its cache of rendered agents, reading in full only the agents
 * it has not rendered at that version yet.
 */
export async function listAgentVersions(
  db: Queryable,
  options: ListAgentsOptions,
): Promise<{ entries: AgentVersion[]; total: number }> {
  const search = options.search?.trim() ? options.search.trim().toLowerCase() : null;
  const { rows } = await db.query<AgentVersion & { total: number }>({
    name: `lap_list_agent_versions_${options.sort}_${options.order}`,
    text: `SELECT a.id, ${ROW_VERSION} AS version,
                  (SELECT count(*)::int FROM agents a WHERE ${SEARCH_FILTER}) AS total
             FROM agents a
            WHERE ${SEARCH_FILTER}
            ORDER BY ${ORDER_BY[options.sort][options.order]}
            LIMIT $2 OFFSET $3`,
    values: [search, options.limit, options.offset],
  });
  if (rows.length > 0 || options.offset === 0) {
    return { entries: rows.map(({ id, version }) => ({ id, version })), total: rows[0]?.total ?? 0 };
  }
  const count = await db.query<{ total: number }>({
    name: 'lap_count_agents',
    text: `SELECT count(*)::int AS total FROM agents a WHERE ${SEARCH_FILTER}`,
    values: [search],
  });
  return { entries: [], total: count.rows[0].total };
}

/** The agents with these ids (any order), each with its version. */
export async function getAgentsWithVersions(
  db: Queryable,
  ids: string[],
): Promise<Array<{ agent: AgentRecord; version: string }>> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const { rows } = await db.query<AgentRecord & { version: string }>({
    name: 'lap_get_agents_with_versions',
    text: `SELECT ${AGENT_COLUMNS}, ${ROW_VERSION} AS version FROM agents a WHERE a.id = ANY($1::uuid[])`,
    values: [valid],
  });
  return rows.map(({ version, ...agent }) => ({ agent, version }));
}

/** Applies the changes (none: just reads); null when the agent does not exist. */
export async function updateAgent(
  db: Queryable,
  id: string,
  changes: AgentChanges,
): Promise<AgentRecord | null> {
  if (!isUuid(id)) return null;
  // Column names are interpolated: only the known ones ever reach the SQL text.
  const entries = Object.entries(changes).filter(
    ([column, value]) => value !== undefined && UPDATABLE_COLUMNS.has(column),
  );
  if (entries.length === 0) return getAgent(db, id);
  const assignments = entries.map(([column], i) => `${column} = $${i + 2}`);
  const values = entries.map(([column, value]) => (JSON_COLUMNS.has(column) ? JSON.stringify(value) : value));
  const { rowCount } = await db.query(
    `UPDATE agents SET ${assignments.join(', ')}, updated_at = clock_timestamp() WHERE id = $1`,
    [id, ...values],
  );
  return rowCount === 1 ? getAgent(db, id) : null;
}

export async function deleteAgent(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await db.query('DELETE FROM agents WHERE id = $1', [id]);
  return rowCount === 1;
}
