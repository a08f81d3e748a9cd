import { HARNESS_IDS, envChoice, envList, readEnv } from '@lap/sandbox-protocol';
import { z } from 'zod';

/** How sandboxes get Fargate capacity (SANDBOX_CAPACITY). */
export const SANDBOX_CAPACITY_STRATEGIES = ['spot-with-fallback', 'on-demand', 'spot'] as const;
export type SandboxCapacity = (typeof SANDBOX_CAPACITY_STRATEGIES)[number];

const taskDefinitionsSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON like {"opencode":"lap-sandbox-opencode"}' });
      return z.NEVER;
    }
  })
  .pipe(z.partialRecord(z.enum(HARNESS_IDS), z.string().min(1)))
  .refine((map) => Object.keys(map).length > 0, 'must name a task definition for at least one harness');

/** ECS tag values allow letters, digits, spaces and _ . : / = + - @ (the environment name is one). */
const tagValue = z
  .string({ error: 'is required: the environment name (the lap:environment tag of its sandboxes)' })
  .regex(/^[\w .:/=+\-@]{1,256}$/, 'may hold only letters, digits, spaces and _ . : / = + - @');

/**
 * The ECS sandbox settings, read from the environment: the platform services (with
 * SANDBOX_LAUNCHER=ecs) and the Lambdas that list or stop sandboxes share these definitions.
 */
export const ecsSandboxSettingsSchema = z.object({
  SANDBOX_CLUSTER_ARN: z.string(),
  SANDBOX_SUBNET_IDS: envList().pipe(
    z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be subnet ids (subnet-...)')).min(1),
  ),
  SANDBOX_SECURITY_GROUP_ID: z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id (sg-...)'),
  SANDBOX_TASK_DEFINITIONS: taskDefinitionsSchema,
  SANDBOX_CAPACITY: envChoice(SANDBOX_CAPACITY_STRATEGIES).default('spot-with-fallback'),
  SANDBOX_ENVIRONMENT: tagValue,
  SANDBOX_LOG_GROUP: z.string().optional(),
  SANDBOX_EXECUTION_ROLE_ARN: z.string().startsWith('arn:').optional(),
  SANDBOX_TASK_ROLE_ARN: z.string().startsWith('arn:').optional(),
});
/** What a deployment writes for the launcher. */
export type EcsSandboxEnvironment = z.input<typeof ecsSandboxSettingsSchema>;

/**
 * What the launcher needs. Same shape as the runtime's `PlatformConfig.ecs`
 * (platform/src/config), so the platform passes its validated config straight in.
 */
export interface EcsSandboxSettings {
  clusterArn: string;
  subnetIds: string[];
  securityGroupId: string;
  /** Task definition family or ARN by harness id. */
  taskDefinitions: Record<string, string>;
  capacity: SandboxCapacity;
  /** Environment name: the `lap:environment` tag value. */
  environment: string;
  logGroup: string | undefined;
  executionRoleArn: string | undefined;
  taskRoleArn: string | undefined;
}

/** The launcher's settings from environment values that passed the schema. */
export function toEcsSandboxSettings(env: z.infer<typeof ecsSandboxSettingsSchema>): EcsSandboxSettings {
  return {
    clusterArn: env.SANDBOX_CLUSTER_ARN,
    subnetIds: env.SANDBOX_SUBNET_IDS,
    securityGroupId: env.SANDBOX_SECURITY_GROUP_ID,
    taskDefinitions: env.SANDBOX_TASK_DEFINITIONS as Record<string, string>,
    capacity: env.SANDBOX_CAPACITY,
    environment: env.SANDBOX_ENVIRONMENT,
    logGroup: env.SANDBOX_LOG_GROUP,
    executionRoleArn: env.SANDBOX_EXECUTION_ROLE_ARN,
    taskRoleArn: env.SANDBOX_TASK_ROLE_ARN,
  };
}

/** Parses the settings; the error lists every bad key with its rule. */
export function parseEcsSandboxSettings(env: Record<string, string | undefined>): EcsSandboxSettings {
  const reading = readEnv(ecsSandboxSettingsSchema, env);
  if (reading.ok) return toEcsSandboxSettings(reading.data);
  const problems = reading.problems.map((problem) => `${problem.key}: ${problem.message}`);
  throw new Error(`invalid ECS sandbox settings: ${problems.join('; ')}`);
}
