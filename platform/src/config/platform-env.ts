/**
 * The web and worker services' environment (and local mode's): every variable, its rule, its
 * default and the fix its message names. The loader (./index.ts) adds the rules that depend on
 * the role, the secret store and the launcher. Variables the Lambdas read too (the database,
 * the warm pool, the creating timeout, the log level) are these same definitions
 * (lambda/shared/settings.ts); the CDK app writes each service's environment to these types
 * (lib/layers/platform.ts), and test/infra/env-contracts.test.ts parses what it synthesized.
 */
import {
  egressTokenKeyEnv,
  envChoice,
  envInteger,
  envList,
  envLogLevel,
  nodeRuntimeEnv,
  type PlainEnvironment,
} from '@lap/sandbox-protocol';
import { parseDestinationRules } from '@lap/vault/src/destination-rules';
import { z } from 'zod';
import { databaseEnv } from '../db/database-env';
import type { EcsSandboxEnvironment } from '../sandbox/ecs/settings';

const httpUrl = (hint: string) =>
  z.string().regex(/^https?:\/\/[^\s/]+/i, `must be an http(s) URL (${hint})`);

const DEFAULT_GIT_TOKEN_HOSTS = ['github.com'];
/** Where the vault may send GIT_TOKEN: the vault's own destination rules (host, *.domain, IP, CIDR). */
const gitTokenHosts = envList()
  .superRefine((hosts, context) => {
    try {
      parseDestinationRules(hosts);
    } catch (error) {
      context.addIssue({
        code: 'custom',
        message: `must be a comma list of git hosts, e.g. github.com,gitlab.example.com: ${(error as Error).message}`,
      });
    }
  })
  .transform((hosts) => (hosts.length > 0 ? hosts : DEFAULT_GIT_TOKEN_HOSTS))
  .default(DEFAULT_GIT_TOKEN_HOSTS);

export const platformEnvSchema = z.object({
  PLATFORM_ROLE: envChoice(['all', 'web', 'worker']).default('all'),
  PORT: envInteger({ min: 1, hint: 'the HTTP port the web role listens on' }).default(3000),
  // The worker's internal port (contract 3): sandbox callbacks and web -> worker calls, never
  // behind the load balancer.
  INTERNAL_PORT: envInteger({ min: 1, hint: "the worker's internal port" }).default(3001),
  // How the web role reaches a worker's internal listener (session hand-off, pokes, sandbox logs).
  WORKER_INTERNAL_URL: httpUrl(
    "the workers' internal listener, e.g. http://worker.lap-dev.internal:3001",
  ).optional(),
  ...databaseEnv,
  MASTER_KEY: z.string().min(8, 'must be at least 8 characters (the API bearer key)').optional(),
  HARNESS_TOKEN_SIGNING_KEY: z
    .string()
    .min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)')
    .optional(),
  SECRET_STORE: envChoice(['local', 'kms']).default('local'),
  ENCRYPTION_KEY: z.string().optional(),
  KMS_KEY_ARN: z.string().startsWith('arn:', 'must be a KMS key ARN (arn:aws:kms:...)').optional(),
  SANDBOX_LAUNCHER: envChoice(['local', 'ecs']).default('local'),
  LITELLM_API_BASE: httpUrl('the LiteLLM gateway, e.g. https://gateway.example.com').optional(),
  LITELLM_API_KEY: z.string().optional(),
  // Local mode: the real token the vaults swap in for the stub GIT_TOKEN the harness clones with.
  // A secret: no rule here ever puts its value into a problem message.
  GIT_TOKEN: z.string().optional(),
  GIT_TOKEN_HOSTS: gitTokenHosts,
  CALLBACK_URL: httpUrl(
    "how sandboxes reach the worker's internal listener, e.g. http://10.0.1.5:3001",
  ).optional(),
  BASE_URL: httpUrl('the public URL of the API').optional(),
  VAULT_CA_CERT: z
    .string()
    .includes('-----BEGIN CERTIFICATE-----', {
      message: 'must be a PEM certificate (-----BEGIN CERTIFICATE-----)',
    })
    .optional(),
  // Enforced egress (AWS): the key egress tokens are derived with, shared with the egress gateway.
  EGRESS_TOKEN_KEY: egressTokenKeyEnv.optional(),
  PREINSTALLED_GITHUB_REPO: httpUrl('a git repository URL cloned when an agent has no repo_url').optional(),
  WARM_POOL_SIZE: envInteger({ min: 0, hint: '0 turns the warm pool off' }).default(2),
  WARM_POOL_RECENT_AGENT_HOURS: envInteger({ min: 1, hint: 'hours' }).default(24),
  WARM_POOL_MAX_PROVISIONING: envInteger({ min: 1, hint: 'sandboxes started per top-up cycle' }).default(2),
  WARM_POOL_TTL_MINUTES: envInteger({ min: 1, hint: 'minutes' }).default(30),
  SESSION_CREATING_TIMEOUT_MS: envInteger({ min: 1000, hint: 'milliseconds' }).default(600_000),
  // One turn (a message, the initial prompt) may run this long at the harness; then the
  // platform POSTs /abort and answers 504. The upstream platform's bound is the same 10 minutes.
  TURN_TIMEOUT_MS: envInteger({
    min: 1000,
    hint: 'milliseconds a turn may run before it is aborted',
  }).default(600_000),
  // A harness whose connection broke gets this long to answer /health again before its
  // session is declared dead (a stall is not a death).
  HARNESS_STALL_GRACE_MS: envInteger({
    min: 0,
    hint: 'milliseconds a silent harness has to answer again',
  }).default(60_000),
  // The job runner polls every JOB_POLL_MS while there is work and doubles the wait on each
  // empty look up to JOB_POLL_IDLE_MAX_MS, so an idle platform leaves its database alone.
  JOB_POLL_MS: envInteger({
    min: 50,
    hint: 'milliseconds between looks for jobs while there is work',
  }).default(1000),
  JOB_POLL_IDLE_MAX_MS: envInteger({
    min: 50,
    hint: 'the longest wait between looks for jobs while idle',
  }).default(300_000),
  LOG_LEVEL: envLogLevel(),
  ...nodeRuntimeEnv,
});
export type PlatformEnv = z.output<typeof platformEnvSchema>;

/** Variables holding secret values: on AWS they arrive as ECS secrets, never as plain environment. */
export const PLATFORM_SECRET_ENV = [
  'MASTER_KEY',
  'HARNESS_TOKEN_SIGNING_KEY',
  'VAULT_CA_CERT',
  'EGRESS_TOKEN_KEY',
  'ENCRYPTION_KEY',
  'DB_PASSWORD',
  'LITELLM_API_KEY',
  'GIT_TOKEN',
] as const;
export type PlatformSecretName = (typeof PLATFORM_SECRET_ENV)[number];

/**
 * What an AWS deployment gives every platform service as plain environment: the ECS launcher
 * and its settings, the KMS secret store, the database by host and RDS secret. The role and
 * its port are the service's own (PLATFORM_ROLE, PORT).
 */
export type AwsPlatformEnvironment = PlainEnvironment<typeof platformEnvSchema, PlatformSecretName> &
  EcsSandboxEnvironment &
  Required<
    Pick<
      z.input<typeof platformEnvSchema>,
      | 'DB_HOST'
      | 'DB_NAME'
      | 'DB_USER'
      | 'DB_SECRET_ARN'
      | 'KMS_KEY_ARN'
      | 'LITELLM_API_BASE'
      | 'CALLBACK_URL'
      | 'PLATFORM_ROLE'
      | 'PORT'
    >
  > & { SECRET_STORE: 'kms'; SANDBOX_LAUNCHER: 'ecs' };

/** What an AWS deployment gives every platform service as ECS secrets (EGRESS_TOKEN_KEY: the worker, enforced egress). */
export type AwsPlatformSecrets<Secret> = Record<
  'MASTER_KEY' | 'HARNESS_TOKEN_SIGNING_KEY' | 'VAULT_CA_CERT',
  Secret
> & {
  EGRESS_TOKEN_KEY?: Secret;
};
