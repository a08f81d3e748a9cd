import { HARNESS_IDS } from '@lap/sandbox-protocol';
import { z } from 'zod';
import { egressRulesSchema } from './egress';
import { envVarBindingSchema, envVarHostsSchema } from './env-var-hosts';
import { envVarsSchema } from './env-vars';
import { repoUrlSchema } from './repo-url';
import { paginationQuery } from './common';
import { sandboxFileSchema, sandboxFilesSchema } from './sandbox-files';
import { httpUrl, requiredText, storableText } from './text';

export const harnessIdSchema = z.enum(HARNESS_IDS, { error: `must be one of ${HARNESS_IDS.join(', ')}` });

const MAX_MCP_SERVERS = 50;
const mcpServersSchema = z
  .array(requiredText(2048))
  .max(MAX_MCP_SERVERS, `at most ${MAX_MCP_SERVERS} entries`);
const MAX_SKILL_IDS = 100;
// A container image reference: registry/repo[:tag][@digest], no whitespace.
const harnessImageSchema = requiredText(512).refine(
  (s) => /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(s),
  'must be a container image reference (registry/repository:tag or @sha256:...)',
);

const name = requiredText(200);
const model = requiredText(200);
const prompt = storableText(200_000);
const branch = requiredText(255);

/** POST /agents. Unknown fields are ignored (lap-reference section 9). */
export const createAgentSchema = z.object({
  name: name.optional(),
  model,
  prompt: prompt.optional(),
  harness_id: harnessIdSchema.default('opencode'),
  repo_url: repoUrlSchema.optional(),
  branch: branch.default('main'),
  requirements: storableText(65_536).optional(),
  mcp_servers: mcpServersSchema.default([]),
  env_vars: envVarsSchema.default({}),
  // Where each env var's real value may go (validation/env-var-hosts.ts); keys of env_vars only.
  env_var_hosts: envVarHostsSchema.default({}),
  skill_ids: z.array(z.string()).max(MAX_SKILL_IDS, `at most ${MAX_SKILL_IDS} entries`).default([]),
  allow_out: egressRulesSchema.default([]),
  deny_out: egressRulesSchema.default([]),
  sandbox_files: sandboxFilesSchema.default([]),
  pfp_url: httpUrl().optional(),
  // Free text from the upstream clients (the SDK's templateId): stored and shown, nothing else.
  template_id: storableText(200).optional(),
  // Per-agent LiteLLM gateway override (the SDK's litellmApiBase / litellmApiKey).
  litellm_api_base: httpUrl().optional(),
  litellm_api_key: requiredText(4096).optional(),
});
export type CreateAgentInput = z.infer<typeof createAgentSchema>;

// Fields an agent is created with but PATCH does not change: saying so beats ignoring them.
const fixedAtCreate = (hint: string) => z.undefined({ error: `cannot be changed after create (${hint})` });

/** PATCH /agents/{id}: every field optional; null clears a nullable field; no body changes nothing. */
export const patchAgentSchema = z
  .object({
    name: name.nullable(),
    prompt: prompt.nullable(),
    model,
    branch,
    pfp_url: httpUrl().nullable(),
    mcp_servers: mcpServersSchema,
    env_vars: envVarsSchema,
    env_var_hosts: envVarHostsSchema,
    harness_image: harnessImageSchema.nullable(),
    allow_out: egressRulesSchema,
    deny_out: egressRulesSchema,
    sandbox_files: sandboxFilesSchema,
    harness_id: fixedAtCreate('create a new agent, or pin an image with harness_image'),
    repo_url: fixedAtCreate('create a new agent'),
    requirements: fixedAtCreate('create a new agent'),
    skill_ids: fixedAtCreate('use POST /agents/{id}/skill and DELETE /agents/{id}/skill'),
  })
  .partial()
  .nullish()
  .transform((body) => {
    const { harness_id: _h, repo_url: _r, requirements: _q, skill_ids: _s, ...changes } = body ?? {};
    return changes;
  });
export type PatchAgentInput = z.infer<typeof patchAgentSchema>;

export const AGENT_SORT_KEYS = ['created_at', 'name', 'harness_id', 'sessions'] as const;

export const listAgentsQuerySchema = z.object({
  ...paginationQuery,
  sort: z
    .enum(AGENT_SORT_KEYS, { error: `must be one of ${AGENT_SORT_KEYS.join(', ')}` })
    .default('created_at'),
  order: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).default('desc'),
  search: storableText(200).optional(),
});
export type ListAgentsQuery = z.infer<typeof listAgentsQuerySchema>;

/** The agent as the API returns it. env_vars values are always "<redacted>". */
export const agentSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  model: z.string(),
  prompt: z.string().nullable(),
  harness_id: harnessIdSchema,
  supports_tui: z.boolean(),
  harness_image: z.string().nullable(),
  repo_url: z.string().nullable(),
  branch: z.string(),
  requirements: z.string().nullable(),
  mcp_servers: z.array(z.string()),
  env_vars: z.record(z.string(), z.literal('<redacted>')),
  env_var_hosts: z.record(z.string(), envVarBindingSchema),
  /** Env var keys the vault never swaps (no explicit binding, no built-in one): the agent sees a useless stub. */
  unbound_env_vars: z.array(z.string()),
  attached_skill_ids: z.array(z.string()),
  allow_out: z.array(z.string()),
  deny_out: z.array(z.string()),
  sandbox_files: z.array(sandboxFileSchema),
  pfp_url: z.string().nullable(),
  template_id: z.string().nullable(),
  litellm_api_base: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Agent = z.infer<typeof agentSchema>;
