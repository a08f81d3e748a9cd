import { TUI_HARNESS_IDS } from '@lap/sandbox-protocol';
import { unboundEnvVars } from '../agents/bindings';
import { promptWithSkills } from '../agents/prompt';
import type { AgentRecord } from '../db/agents';
import type { MemoryRecord } from '../db/memories';
import type { SkillRecord } from '../db/skills';
import type { Agent } from '../validation/agent';
import type { Memory } from '../validation/memory';
import type { Skill } from '../validation/skill';

/** The wire value of every env var: the API never returns a stored secret. */
export const REDACTED = '<redacted>';

export function agentView(agent: AgentRecord): Agent {
  return {
    id: agent.id,
    name: agent.name,
    model: agent.model,
    prompt: promptWithSkills(agent.prompt, agent.attached_skills),
    harness_id: agent.harness_id,
    supports_tui: TUI_HARNESS_IDS.includes(agent.harness_id),
    harness_image: agent.harness_image,
    repo_url: agent.repo_url,
    branch: agent.branch,
    requirements: agent.requirements,
    mcp_servers: agent.mcp_servers,
    env_vars: Object.fromEntries(agent.env_var_keys.map((key) => [key, REDACTED] as const)),
    env_var_hosts: agent.env_var_hosts,
    unbound_env_vars: unboundEnvVars(agent.env_var_keys, agent.env_var_hosts),
    attached_skill_ids: agent.attached_skill_ids,
    allow_out: agent.allow_out,
    deny_out: agent.deny_out,
    sandbox_files: agent.sandbox_files,
    pfp_url: agent.pfp_url,
    template_id: agent.template_id,
    litellm_api_base: agent.litellm_api_base,
    created_at: agent.created_at.toISOString(),
    updated_at: agent.updated_at.toISOString(),
  };
}

export function skillView(skill: SkillRecord): Skill {
  return {
    id: skill.id,
    name: skill.name,
    description: skill.description,
    content: skill.content,
    created_at: skill.created_at.toISOString(),
    updated_at: skill.updated_at.toISOString(),
  };
}

export function memoryView(memory: MemoryRecord): Memory {
  return {
    ...memory,
    last_applied_at: memory.last_applied_at?.toISOString() ?? null,
    created_at: memory.created_at.toISOString(),
    updated_at: memory.updated_at.toISOString(),
  };
}
