import { z } from 'zod';
import { requiredText, storableText } from './text';

export const MEMORY_SOURCES = ['agent', 'slack', 'ui'] as const;
const MAX_TAGS = 8;
// PostgreSQL integer range.
const INT4_MAX = 2_147_483_647;

const text = storableText(20_000).refine((s) => s.length >= 1, 'must be at least 1 character');
const tags = z.array(requiredText(64)).max(MAX_TAGS, `at most ${MAX_TAGS} tags`);
const type = storableText(64);
const priority = z
  .number({ error: 'must be an integer' })
  .int('must be an integer')
  .min(-INT4_MAX, 'too small')
  .max(INT4_MAX, 'too large');
const source = z.enum(MEMORY_SOURCES, { error: `must be one of ${MEMORY_SOURCES.join(', ')}` });

export const createMemorySchema = z.object({
  text,
  tags: tags.default([]),
  type: type.optional(),
  priority: priority.default(0),
  source: source.default('ui'),
});
export type CreateMemoryInput = z.infer<typeof createMemorySchema>;

export const patchMemorySchema = z
  .object({
    text,
    tags,
    type: type.nullable(),
    priority,
    source,
    disabled: z.boolean({ error: 'must be a boolean' }),
  })
  .partial()
  .nullish()
  .transform((body) => body ?? {});
export type PatchMemoryInput = z.infer<typeof patchMemorySchema>;

export const memoryQuerySchema = z.object({
  q: storableText(1000).optional(),
  tag: storableText(64).optional(),
  /** Disabled memories are left out of search (as upstream) unless asked for (`true`: the UI's list). */
  include_disabled: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
});
export type MemoryQuery = z.infer<typeof memoryQuerySchema>;

export const memorySchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  text: z.string(),
  tags: z.array(z.string()),
  type: z.string().nullable(),
  priority: z.number(),
  source: source,
  disabled: z.boolean(),
  times_applied: z.number(),
  last_applied_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Memory = z.infer<typeof memorySchema>;
