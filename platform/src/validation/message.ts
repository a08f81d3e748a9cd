import { z } from 'zod';
import { isWellFormedUnicode } from './text';

/** Deeper than this, a message part is not a message (the harness and PostgreSQL need neither). */
export const MAX_PART_DEPTH = 32;

export const messagePartSchema = z.looseObject({ type: z.string().min(1), text: z.string().optional() });

/**
 * The first problem of a part, or null: nesting beyond MAX_PART_DEPTH, or a string
 * (key or value) with NUL or a lone surrogate, which the reply's storage and the
 * harness's JSON handling cannot take. Iterative: a 100 000-deep part cannot overflow the stack.
 */
export function partProblem(part: unknown): string | null {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: part, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return 'must not contain NUL characters';
      if (!isWellFormedUnicode(value)) return 'must be valid Unicode (no lone surrogates)';
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_PART_DEPTH) return `must not be nested deeper than ${MAX_PART_DEPTH} levels`;
    for (const [key, child] of Object.entries(value)) {
      stack.push({ value: key, depth }, { value: child, depth: depth + 1 });
    }
  }
  return null;
}

/** POST /sessions/{id}/message and /message_stream: `text`, or `parts`. Unknown keys are ignored. */
export const messageSchema = z
  .object({
    text: z
      .string()
      .min(1, 'must not be empty')
      .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
      .refine(isWellFormedUnicode, 'must be valid Unicode (no lone surrogates)')
      .optional(),
    parts: z
      .array(
        z.unknown().superRefine((part, ctx) => {
          const problem = partProblem(part);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .min(1, 'must hold at least one part')
      .pipe(z.array(messagePartSchema))
      .optional(),
  })
  .refine((b) => (b.text === undefined) !== (b.parts === undefined), {
    message: 'send either text or parts, not both and not neither',
  });
export type MessageBody = z.infer<typeof messageSchema>;
