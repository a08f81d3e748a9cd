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
  for (const skill of skills) sections.push(`<!-- skill:${skill.skill_id} -->\n${skill.content.trim()}`);
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
