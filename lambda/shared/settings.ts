/**
 * Each Lambda's environment: one schema per function, validated once per cold start. A bad or
 * missing key fails the invocation with one error naming every key and its fix. Variables the
 * platform services read too are the platform's own definitions (platform/src/config and the
 * modules it composes), so a key means the same, with the same default, wherever it is read;
 * the CDK app writes each function's environment to these types (lib/layers/platform.ts).
 */
import { envInteger, nodeRuntimeEnv, readEnv, type PlainEnvironment } from '@lap/sandbox-protocol';
import { z } from 'zod';
import { platformEnvSchema } from '../../platform/src/config/platform-env';
import { databaseEnv } from '../../platform/src/db/database-env';
import { ecsSandboxSettingsSchema } from '../../platform/src/sandbox/ecs/settings';

/** PostgreSQL by host, with the credentials from the RDS-managed secret. */
export const functionDatabaseEnvSchema = z.object({
  DB_HOST: databaseEnv.DB_HOST.unwrap(),
  DB_PORT: databaseEnv.DB_PORT,
  DB_NAME: databaseEnv.DB_NAME.unwrap(),
  DB_SECRET_ARN: databaseEnv.DB_SECRET_ARN.unwrap(),
  DB_SSL: databaseEnv.DB_SSL,
});

/** Every function: the database, logs, metrics. */
export const functionEnvSchema = functionDatabaseEnvSchema.extend({
  LOG_LEVEL: platformEnvSchema.shape.LOG_LEVEL,
  /** CloudWatch namespace of the EMF metrics. */
  METRICS_NAMESPACE: z.string().default('LAP'),
  /** The metrics' Environment dimension and the sandboxes' lap:environment tag. */
  SANDBOX_ENVIRONMENT: ecsSandboxSettingsSchema.shape.SANDBOX_ENVIRONMENT,
  ...nodeRuntimeEnv,
});

/** warm-pool: lists and stops sandboxes (the ECS settings), plans top-ups, then pokes a worker. */
export const warmPoolFunctionEnvSchema = functionEnvSchema.extend(ecsSandboxSettingsSchema.shape).extend(
  platformEnvSchema.pick({
    WARM_POOL_SIZE: true,
    WARM_POOL_RECENT_AGENT_HOURS: true,
    WARM_POOL_MAX_PROVISIONING: true,
    WARM_POOL_TTL_MINUTES: true,
    // The workers' internal listener: poked after planning, so an idle worker starts the bring-ups now.
    WORKER_INTERNAL_URL: true,
  }).shape,
);

/** idle-reaper: lists and stops sandboxes, times out sessions stuck in `creating`. */
export const idleReaperFunctionEnvSchema = functionEnvSchema.extend(ecsSandboxSettingsSchema.shape).extend({
  SESSION_CREATING_TIMEOUT_MS: platformEnvSchema.shape.SESSION_CREATING_TIMEOUT_MS,
  /** The reaper's schedule: its day's first run does a full pass even when no sandbox runs. */
  SCHEDULE_EVERY_MINUTES: envInteger({ min: 1, hint: 'minutes between runs' }).default(5),
});

/** task-events: ends what a stopped task served; acts only on its cluster's events when it is set. */
export const taskEventsFunctionEnvSchema = functionEnvSchema.extend({
  SANDBOX_CLUSTER_ARN: ecsSandboxSettingsSchema.shape.SANDBOX_CLUSTER_ARN.optional(),
});

/** migrate: the migrations are bundled next to the handler unless MIGRATIONS_DIR says otherwise. */
export const migrateFunctionEnvSchema = functionEnvSchema.extend({
  MIGRATIONS_DIR: z.string().optional(),
});

/** vault-ca: its input is the custom resource's properties (lambda/vault-ca); the environment is Node's. */
export const vaultCaFunctionEnvSchema = z.object(nodeRuntimeEnv);

/** What the CDK app writes for a function: its schema's input (a secret's ARN is plain text). */
export type FunctionEnvironment<S extends z.ZodObject> = PlainEnvironment<S>;

/** Parses `env` with `schema`; throws one error listing every failing key. */
export function parseLambdaEnv<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const reading = readEnv(schema, env);
  if (reading.ok) return reading.data;
  const problems = reading.problems.map(({ key, message }) => `${key}: ${message}`);
  throw new Error(`invalid Lambda configuration: ${problems.join('; ')}`);
}
