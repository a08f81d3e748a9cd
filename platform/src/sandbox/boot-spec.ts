/**
 * The boot spec a harness fetches at start (GET /internal/sandboxes/{id}/spec):
 * what to clone, what to install, the system prompt (skills and memories
 * appended), and the files to write (the agent's sandbox_files and one
 * ~/.claude/skills/<slug>/SKILL.md per attached skill). No secret values.
 */
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { buildAgentPrompt } from '../agents/prompt';
import type { AgentRecord } from '../db/agents';
import type { Queryable } from '../db/pool';
import { listEnabledMemories, markMemoriesApplied } from '../db/memories';
import { listAgentSkills, type AgentSkillRecord } from '../db/skills';

export interface BootSpecSettings {
  litellmApiBase: string;
  preinstalledGithubRepo: string | undefined;
}

/** A file-system-safe, readable folder name for a skill; unique within the agent. */
export function skillSlug(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 64) || 'skill';
  let slug = base;
  for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
  taken.add(slug);
  return slug;
}

function skillFile(skill: AgentSkillRecord, slug: string): string {
  const description = (skill.description ?? skill.name).replace(/\s+/g, ' ').trim();
  return `---\nname: ${slug}\ndescription: ${JSON.stringify(description)}\n---\n\n${skill.content}\n`;
}

export async function buildBootSpec(
  db: Queryable,
  sandboxId: string,
  agent: AgentRecord,
  settings: BootSpecSettings,
): Promise<SandboxBootSpec> {
  const [skills, memories] = await Promise.all([
    listAgentSkills(db, agent.id),
    listEnabledMemories(db, agent.id),
  ]);
  const prompt = buildAgentPrompt(agent, skills, memories);
  // Injected into a session's context: that counts as an application of each memory.
  await markMemoriesApplied(
    db,
    memories.map((m) => m.id),
  );
  const taken = new Set<string>();
  const skillFiles = skills.map((skill) => ({
    path: `~/.claude/skills/${skillSlug(skill.name, taken)}/SKILL.md`,
    content_base64: Buffer.from(skillFile(skill, [...taken].at(-1)!), 'utf8').toString('base64'),
  }));
  const userFiles = agent.sandbox_files.map((file) => ({
    path: file.sandbox_path,
    content_base64: file.content,
  }));
  return {
    sandbox_id: sandboxId,
    agent_id: agent.id,
    harness_id: agent.harness_id,
    model: agent.model,
    prompt,
    repo_url: agent.repo_url ?? settings.preinstalledGithubRepo ?? null,
    branch: agent.branch,
    requirements: agent.requirements,
    mcp_servers: agent.mcp_servers,
    litellm_api_base: agent.litellm_api_base ?? settings.litellmApiBase,
    files: [...userFiles, ...skillFiles],
  };
}
