/**
 * The harness container's environment (HarnessContainerEnv), validated in one place.
 */
import { HARNESS_IDS, HARNESS_PORT, HARNESS_TTY_COMMAND_ENV } from '@lap/sandbox-protocol';
import { z } from 'zod';

const envSchema = z.object({
  SANDBOX_ID: z.string({ error: 'is required (the session or warm sandbox id)' }).min(1),
  HARNESS_ID: z.enum(HARNESS_IDS, { error: `must be one of ${HARNESS_IDS.join(', ')}` }),
  PORT: z.coerce.number().int().min(0).max(65535).default(HARNESS_PORT),
  HARNESS_BIND_HOST: z.string().min(1).default('0.0.0.0'),
  HARNESS_TOKEN: z
    .string({ error: 'is required (bearer token of the harness API)' })
    .min(16, 'must be at least 16 characters'),
  CALLBACK_URL: z.url({ error: 'must be the URL the sandbox reaches the platform at' }),
  CALLBACK_TOKEN: z.string({ error: 'is required (bearer token for the internal sandbox routes)' }).min(16),
  VAULT_ENV_FILE: z.string({ error: 'is required (the stub env file the vault writes)' }).min(1),
  VAULT_ENV_TIMEOUT_MS: z.coerce.number().int().positive().default(600_000),
  WORKSPACE_DIR: z.string().min(1).default('/workspace'),
  HOME: z.string({ error: 'is required' }).min(1),
  [HARNESS_TTY_COMMAND_ENV]: z.string().optional(),
  /** How often the agent process (opencode) is restarted within 10 min before it is declared dead. */
  HARNESS_AGENT_RESTARTS: z.coerce.number().int().min(0).max(100).default(3),
  /** How long an idle agent process (opencode) runs before it is stopped until the next request (0: never). */
  HARNESS_AGENT_PARK_MS: z.coerce.number().int().min(0).default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type HarnessConfig = z.infer<typeof envSchema>;

export class HarnessConfigError extends Error {
  override readonly name = 'HarnessConfigError';
}

export function loadHarnessConfig(env: NodeJS.ProcessEnv): HarnessConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new HarnessConfigError(`invalid harness configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}
