import { z } from 'zod';
import { requiredText, storableText } from './text';

export const MAX_SANDBOX_FILES = 20;
export const MAX_SANDBOX_FILES_BASE64_BYTES = 10 * 1024 * 1024;
// A plain character class (no groups): linear on multi-megabyte strings, where a
// grouped pattern overflows the regex engine's stack.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(value: string): boolean {
  return value.length % 4 === 0 && BASE64_CHARS.test(value);
}

function decodedLength(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

/** One file written into every sandbox of the agent at boot. */
export const sandboxFileInputSchema = z
  .object({
    name: requiredText(255),
    sandbox_path: requiredText(1024).refine(
      (p) => p.startsWith('/') || p.startsWith('~'),
      'must start with / or ~',
    ),
    content: z.string({ error: 'must be a base64 string' }).refine(isBase64, 'must be valid base64'),
    content_type: storableText(255).default('application/octet-stream'),
    size: z.number().int().nonnegative().optional(),
  })
  .transform((file, ctx) => {
    const size = decodedLength(file.content);
    if (file.size !== undefined && file.size !== size) {
      ctx.addIssue({
        code: 'custom',
        path: ['size'],
        message: `must equal the decoded content length (${size})`,
      });
    }
    return { ...file, size };
  });

export const sandboxFilesSchema = z
  .array(sandboxFileInputSchema)
  .max(MAX_SANDBOX_FILES, `at most ${MAX_SANDBOX_FILES} files`)
  .refine(
    (files) => files.reduce((sum, f) => sum + f.content.length, 0) <= MAX_SANDBOX_FILES_BASE64_BYTES,
    `at most ${MAX_SANDBOX_FILES_BASE64_BYTES / 1024 / 1024} MB of base64 content in total`,
  );

/** As stored and returned. */
export const sandboxFileSchema = z.object({
  name: z.string(),
  sandbox_path: z.string(),
  content: z.string(),
  content_type: z.string(),
  size: z.number(),
});

export type SandboxFile = z.infer<typeof sandboxFileSchema>;
