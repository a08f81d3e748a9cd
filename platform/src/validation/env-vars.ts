import { z } from 'zod';
import { isWellFormedUnicode } from './text';

/** Set by the platform itself inside every sandbox: a user value would shadow it. */
export const RESERVED_ENV_VAR_KEYS = [
  'REPO_URL',
  'BRANCH',
  'LITELLM_API_KEY',
  'LITELLM_API_BASE',
  'LITELLM_DEFAULT_MODEL',
  'AGENT_PROMPT',
  'PORT',
  'GIT_TOKEN',
  'AGENT_REQUIREMENTS',
] as const;

export const MAX_ENV_VARS = 50;
export const MAX_ENV_VARS_JSON_BYTES = 16 * 1024;
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set<string>(RESERVED_ENV_VAR_KEYS);

/**
 * Environment variables for a sandbox: agent-level (stored encrypted) and
 * per-session (never stored). Values are secrets; messages name keys only.
 */
export const envVarsSchema = z
  .record(z.string(), z.string({ error: 'must be a string' }))
  .superRefine((vars, ctx) => {
    const keys = Object.keys(vars);
    if (keys.length > MAX_ENV_VARS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_ENV_VARS} keys (got ${keys.length})` });
    }
    if (Buffer.byteLength(JSON.stringify(vars), 'utf8') > MAX_ENV_VARS_JSON_BYTES) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_ENV_VARS_JSON_BYTES / 1024} KB as JSON` });
    }
    for (const key of keys) {
      if (!KEY_PATTERN.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `key must match ${KEY_PATTERN.source}` });
      } else if (RESERVED.has(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'reserved key (set by the platform)' });
      } else if (vars[key].includes('\u0000')) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'value must not contain NUL characters' });
      } else if (!isWellFormedUnicode(vars[key])) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'value must be valid Unicode (no lone surrogates)',
        });
      }
    }
  });

export type EnvVars = z.infer<typeof envVarsSchema>;
