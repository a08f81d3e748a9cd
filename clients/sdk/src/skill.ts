import { SKILLS_PATH, Transport, type ConnectionOptions } from './transport.js';
import type { CreateSkillInput, SkillData } from './types.js';

/** The skill library: reusable instruction blocks that agents embed (see `agent.attachSkill`). */
export const Skill = {
  async create(connection: ConnectionOptions, input: CreateSkillInput): Promise<SkillData> {
    return new Transport(connection).request<SkillData>('POST', SKILLS_PATH, { body: input });
  },

  /** Newest first. */
  async list(connection: ConnectionOptions): Promise<SkillData[]> {
    const result = await new Transport(connection).request<SkillData[] | { data: SkillData[] }>(
      'GET',
      SKILLS_PATH,
    );
    return Array.isArray(result) ? result : result.data;
  },

  async get(connection: ConnectionOptions, skillId: string): Promise<SkillData> {
    return new Transport(connection).request<SkillData>('GET', skillPath(skillId));
  },

  async update(
    connection: ConnectionOptions,
    skillId: string,
    patch: Partial<CreateSkillInput>,
  ): Promise<SkillData> {
    return new Transport(connection).request<SkillData>('PATCH', skillPath(skillId), { body: patch });
  },

  /** Agents that already embed the skill keep their copy. */
  async delete(connection: ConnectionOptions, skillId: string): Promise<void> {
    await new Transport(connection).request('DELETE', skillPath(skillId));
  },
};

function skillPath(skillId: string): string {
  return `${SKILLS_PATH}/${encodeURIComponent(skillId)}`;
}
