/** What the prompt needs of an attached skill: the agent's embedded copy. */
export interface PromptSkill {
  skill_id: string;
  content: string;
}

export interface PromptMemory {
  text: string;
  priority: number;
  disabled?: boolean;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One attached skill as the prompt shows it: `<!-- skill:<id> -->` and its content. */
function skillBlock(skill: PromptSkill): string {
  return `<!-- skill:${skill.skill_id} -->\n${skill.content.trim()}`;
}

/**
 * The agent's prompt as the API shows it (the upstream platform's `prompt` field): its
 * own prompt, then each attached skill as a `<!-- skill:<id> -->` block, in attach
 * order. Detaching a skill removes its block; with no skill the prompt is as stored.
 */
export function promptWithSkills(prompt: string | null, skills: readonly PromptSkill[]): string | null {
  if (skills.length === 0) return prompt;
  const own = (prompt ?? '').trimEnd();
  return [...(own ? [own] : []), ...skills.map(skillBlock)].join('\n\n');
}

/**
 * A prompt written back (PATCH) without the blocks of the skills attached to the agent:
 * they are shown from the attachments, so a prompt read and written back unchanged
 * stays unchanged instead of doubling them.
 */
export function withoutSkillBlocks(prompt: string, attachedSkillIds: readonly string[]): string {
  let out = prompt;
  for (const id of attachedSkillIds) {
    out = out.replace(
      new RegExp(`\\n*<!-- skill:${escapeRegex(id)} -->\\n[\\s\\S]*?(?=\\n+<!-- skill:|$)`),
      '',
    );
  }
  return out.replace(/^\n+/, '').trimEnd();
}

/**
 * The system prompt a sandbox boots with: the agent's own prompt, then each
 * attached skill as a `<!-- skill:<id> -->` block in attach order, then the
 * enabled memories, highest priority first. Skills must be given in attach order
 * (listAgentSkills); memories in any order.
 */
export function buildAgentPrompt(
  agent: { prompt: string | null },
  skills: readonly PromptSkill[],
  memories: readonly PromptMemory[],
): string {
  const sections: string[] = [];
  if (agent.prompt?.trim()) sections.push(agent.prompt.trim());
  for (const skill of skills) sections.push(skillBlock(skill));
  const applied = memories
    .map((memory, index) => ({ memory, index }))
    .filter(({ memory }) => !memory.disabled)
    // Stable: equal priorities keep the caller's (creation) order.
    .sort((a, b) => b.memory.priority - a.memory.priority || a.index - b.index);
  if (applied.length > 0) {
    const lines = applied.map(({ memory }) => `- ${memory.text.trim().replace(/\n+/g, ' ')}`);
    sections.push(`<!-- memories -->\nThings to remember about this work:\n${lines.join('\n')}`);
  }
  return sections.join('\n\n');
}
