import { z } from 'zod';
import { requiredText, storableText } from './text';

const name = requiredText(200);
const description = storableText(2000);
const content = requiredText(200_000);

export const createSkillSchema = z.object({ name, content, description: description.optional() });
export type CreateSkillInput = z.infer<typeof createSkillSchema>;

export const patchSkillSchema = z
  .object({ name, content, description: description.nullable() })
  .partial()
  .nullish()
  .transform((body) => body ?? {});
export type PatchSkillInput = z.infer<typeof patchSkillSchema>;

/** POST /agents/{id}/skill: a library skill by id, or an inline one (saved to the library by default). */
export const attachSkillSchema = z
  .object({
    skill_id: z.string().optional(),
    content: content.optional(),
    name: name.optional(),
    description: description.optional(),
    save_to_library: z.boolean({ error: 'must be a boolean' }).default(true),
  })
  .superRefine((body, ctx) => {
    if ((body.skill_id === undefined) === (body.content === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either skill_id or content (an inline skill), not both',
      });
    }
  });
export type AttachSkillInput = z.infer<typeof attachSkillSchema>;

export const detachSkillQuerySchema = z.object({ skill_id: z.string().optional() });

export const skillSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  content: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Skill = z.infer<typeof skillSchema>;
