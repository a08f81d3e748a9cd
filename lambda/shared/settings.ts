/**
 * Lambda environment, validated once per cold start with zod. A bad or missing key
 * fails the invocation with one error naming every key and its fix.
 */
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** How every Lambda reaches PostgreSQL: host settings in env, credentials from the RDS-managed secret. */
export const databaseEnvSchema = z.object({
  DB_HOST: z.string().min(1),
  DB_PORT: z.coerce.number().int().min(1).max(65535).default(5432),
  DB_NAME: z.string().min(1),
  DB_SECRET_ARN: z.string().min(1),
  DB_SSL: z.enum(['require', 'disable']).default('require'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** CloudWatch namespace of the EMF metrics. */
  METRICS_NAMESPACE: z.string().min(1).default('LAP'),
  SANDBOX_ENVIRONMENT: z.string().min(1).default('default'),
});

export const warmPoolEnvSchema = z.object({
  WARM_POOL_SIZE: positiveInt(2),
  WARM_POOL_RECENT_AGENT_HOURS: z.coerce.number().positive().default(24),
  WARM_POOL_MAX_PROVISIONING: positiveInt(2),
  WARM_POOL_TTL_MINUTES: z.coerce.number().positive().default(30),
  /** The workers' internal listener: poked after planning, so an idle worker starts the bring-ups now. */
  WORKER_INTERNAL_URL: z.url().optional(),
});

export const reaperEnvSchema = z.object({
  SESSION_CREATING_TIMEOUT_MS: z.coerce.number().int().positive().default(600_000),
  /** The reaper's schedule: its day's first run does a full pass even when no sandbox runs. */
  SCHEDULE_EVERY_MINUTES: z.coerce.number().int().positive().default(5),
});

const FIXES: Record<string, string> = {
  DB_SECRET_ARN: 'set it to the ARN of the database secret (JSON with username and password)',
  DB_HOST: 'set it to the database endpoint',
  DB_NAME: 'set it to the database name',
};

/** Parses `env` with `schema`; throws one error listing every failing key. */
export function parseLambdaEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.');
    return `${key}: ${issue.message}${FIXES[key] ? ` (${FIXES[key]})` : ''}`;
  });
  throw new Error(`invalid Lambda configuration: ${problems.join('; ')}`);
}
