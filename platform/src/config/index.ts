/**
 * The platform's configuration, from its environment (platform-env.ts), validated once at
 * startup. Every problem is collected into ONE error that names each bad or missing key and
 * how to fix it, so an operator fixes a deployment in one round instead of one key per restart.
 */
import { readEnv } from '@lap/sandbox-protocol';
import { databaseUrl, missingDatabaseEnv } from '../db/database-env';
import {
  ecsSandboxSettingsSchema,
  toEcsSandboxSettings,
  type EcsSandboxSettings,
} from '../sandbox/ecs/settings';
import { platformEnvSchema, type PlatformEnv } from './platform-env';

/** How often a waiting message looks again (session ready, initial prompt done, harness free). */
const TURN_POLL_MS = 500;

type Env = PlatformEnv;

export type PlatformRole = Env['PLATFORM_ROLE'];

/** The ECS launcher's settings (validated by its own schema, sandbox/ecs/settings.ts). */
export type EcsSandboxConfig = EcsSandboxSettings;

export interface PlatformConfig {
  role: PlatformRole;
  port: number;
  /** The internal listener (sandbox callbacks, web -> worker calls) of the worker and all roles. */
  internalPort: number;
  /** The web role: where it calls a worker (set for web, optional otherwise). */
  workerInternalUrl: string | undefined;
  /** `url` has no password when `passwordSecretArn` is set: the pool reads it from that secret. */
  database: { url: string; ssl: boolean; passwordSecretArn: string | undefined; idleTimeoutMs: number };
  masterKey: string;
  harnessTokenSigningKey: string;
  secretStore: { kind: 'local'; encryptionKey: Buffer } | { kind: 'kms'; kmsKeyArn: string };
  sandboxLauncher: Env['SANDBOX_LAUNCHER'];
  litellm: { apiBase: string; apiKey: string | undefined };
  /** Local mode: the real git token the vaults hold (REAL_/HOST_GIT_TOKEN) and the hosts it may go to. */
  git: { token: string | undefined; hosts: string[] };
  /** Worker and all roles (they launch sandboxes); unset in the web role. */
  callbackUrl: string | undefined;
  baseUrl: string | undefined;
  /** Worker and all roles (they push to vaults); unset in the web role. */
  vaultCaCertPem: string | undefined;
  /** Set with an egress gateway: the worker pushes each sandbox's egress token to its vault. */
  egressTokenKey: string | undefined;
  preinstalledGithubRepo: string | undefined;
  warmPool: { size: number; recentAgentHours: number; maxProvisioning: number; ttlMinutes: number };
  sessionCreatingTimeoutMs: number;
  /** Turn deadline and stall grace (sessions/turns.ts). */
  turns: { turnTimeoutMs: number; stallGraceMs: number; pollMs: number };
  /** The job runner's poll back-off (jobs/job-runner.ts). */
  jobPolling: { busyMs: number; idleMaxMs: number };
  logLevel: Env['LOG_LEVEL'];
  ecs: EcsSandboxConfig | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid platform configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Cross-field rules: requirements that depend on the role, the secret store and the launcher. */
function crossFieldProblems(env: Env): string[] {
  const problems: string[] = [];
  const need = (key: keyof Env, why: string) => {
    if (env[key] === undefined) problems.push(`${key} is required ${why}`);
  };
  const missing = missingDatabaseEnv(env, { passwordSecret: true });
  if (missing.length > 0)
    problems.push(
      `DATABASE_URL is missing: set DATABASE_URL=postgres://user:pass@host:5432/db, or all of DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD or DB_SECRET_ARN (missing: ${missing.join(', ')})`,
    );
  need('MASTER_KEY', 'for the API bearer auth: set at least 8 characters');
  need('HARNESS_TOKEN_SIGNING_KEY', 'to derive harness and callback tokens: e.g. `openssl rand -hex 32`');
  if (env.SECRET_STORE === 'local') {
    if (env.ENCRYPTION_KEY === undefined)
      problems.push(
        'ENCRYPTION_KEY is required with SECRET_STORE=local: 32 random bytes in base64, e.g. `openssl rand -base64 32`',
      );
    else if (Buffer.from(env.ENCRYPTION_KEY, 'base64').length !== 32)
      problems.push(
        'ENCRYPTION_KEY must be 32 bytes in base64 (44 characters), e.g. `openssl rand -base64 32`',
      );
  } else need('KMS_KEY_ARN', 'with SECRET_STORE=kms: the ARN of the KMS key for envelope encryption');
  if (env.PLATFORM_ROLE === 'web') {
    // The web role launches nothing: it hands sessions with their own env vars to a worker.
    need(
      'WORKER_INTERNAL_URL',
      "with PLATFORM_ROLE=web: the workers' internal listener, e.g. http://worker.lap-dev.internal:3001",
    );
  } else {
    // The roles that launch sandboxes and push their secrets.
    need(
      'CALLBACK_URL',
      "for sandbox callbacks: the URL sandboxes reach the worker's internal listener at, e.g. http://10.0.1.5:3001",
    );
    need(
      'VAULT_CA_CERT',
      'for the vault admin TLS: the deployment CA PEM that signs the vault admin certificate',
    );
    if (env.INTERNAL_PORT === env.PORT)
      problems.push(
        `INTERNAL_PORT must differ from PORT (both ${env.PORT}): the internal listener is never the public one`,
      );
  }
  need(
    'LITELLM_API_BASE',
    'for sandboxes: the LiteLLM gateway URL sandboxes call, e.g. https://gateway.example.com',
  );
  if (env.GIT_TOKEN !== undefined && env.SANDBOX_LAUNCHER === 'ecs')
    problems.push(
      'GIT_TOKEN is for local sandboxes only: with SANDBOX_LAUNCHER=ecs the vault reads the git token from Secrets Manager (deployment config git.tokenSecretArn); unset GIT_TOKEN',
    );
  return problems;
}

const ECS_HINTS: Record<string, string> = {
  SANDBOX_CLUSTER_ARN: 'the ECS cluster sandboxes run in',
  SANDBOX_SUBNET_IDS: 'comma-separated subnet ids for sandbox tasks',
  SANDBOX_SECURITY_GROUP_ID: 'the sandbox security group id (sg-...)',
  SANDBOX_TASK_DEFINITIONS: 'JSON {"<harness_id>": "<task definition family or ARN>"}',
  SANDBOX_ENVIRONMENT: 'the environment name, used as the lap:environment tag',
};

/** With SANDBOX_LAUNCHER=ecs: the launcher's settings, or their problems appended to `problems`. */
function ecsSettings(source: NodeJS.ProcessEnv, problems: string[]): EcsSandboxSettings | undefined {
  const reading = readEnv(ecsSandboxSettingsSchema, source);
  if (reading.ok) return toEcsSandboxSettings(reading.data);
  for (const { key, message } of reading.problems) {
    const variable = key.split('.')[0]!;
    problems.push(
      source[variable]?.trim()
        ? `${key} ${message}`
        : `${variable} is required with SANDBOX_LAUNCHER=ecs: ${ECS_HINTS[variable] ?? 'see platform/src/sandbox/ecs/settings.ts'}`,
    );
  }
  return undefined;
}

/** Validates the environment; throws one ConfigError listing every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const reading = readEnv(platformEnvSchema, source);
  let env: Env;
  const problems: string[] = [];
  if (reading.ok) env = reading.data;
  else {
    const badKeys = new Set(reading.problems.map((problem) => problem.key.split('.')[0]!));
    problems.push(...reading.problems.map(({ key, message }) => `${key} ${message}`));
    // Read again without the bad keys so the cross-field rules of the others are reported too.
    const rest = Object.fromEntries(Object.entries(source).filter(([k]) => !badKeys.has(k)));
    const others = readEnv(platformEnvSchema, rest);
    if (others.ok)
      problems.push(...crossFieldProblems(others.data).filter((p) => !badKeys.has(p.split(' ')[0]!)));
    if (others.ok && others.data.SANDBOX_LAUNCHER === 'ecs') ecsSettings(source, problems);
    throw new ConfigError(problems);
  }
  problems.push(...crossFieldProblems(env));
  const ecs = env.SANDBOX_LAUNCHER === 'ecs' ? ecsSettings(source, problems) : undefined;
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    role: env.PLATFORM_ROLE,
    port: env.PORT,
    internalPort: env.INTERNAL_PORT,
    workerInternalUrl: env.WORKER_INTERNAL_URL?.replace(/\/+$/, ''),
    database: {
      url: databaseUrl(env),
      ssl: env.DB_SSL === 'require',
      passwordSecretArn: env.DB_SECRET_ARN,
      idleTimeoutMs: env.DB_POOL_IDLE_TIMEOUT_MS,
    },
    masterKey: env.MASTER_KEY!,
    harnessTokenSigningKey: env.HARNESS_TOKEN_SIGNING_KEY!,
    secretStore:
      env.SECRET_STORE === 'local'
        ? { kind: 'local', encryptionKey: Buffer.from(env.ENCRYPTION_KEY!, 'base64') }
        : { kind: 'kms', kmsKeyArn: env.KMS_KEY_ARN! },
    sandboxLauncher: env.SANDBOX_LAUNCHER,
    litellm: { apiBase: env.LITELLM_API_BASE!, apiKey: env.LITELLM_API_KEY },
    git: { token: env.GIT_TOKEN, hosts: env.GIT_TOKEN_HOSTS },
    callbackUrl: env.CALLBACK_URL?.replace(/\/+$/, ''),
    baseUrl: env.BASE_URL,
    vaultCaCertPem: env.VAULT_CA_CERT,
    egressTokenKey: env.EGRESS_TOKEN_KEY,
    preinstalledGithubRepo: env.PREINSTALLED_GITHUB_REPO,
    warmPool: {
      size: env.WARM_POOL_SIZE,
      recentAgentHours: env.WARM_POOL_RECENT_AGENT_HOURS,
      maxProvisioning: env.WARM_POOL_MAX_PROVISIONING,
      ttlMinutes: env.WARM_POOL_TTL_MINUTES,
    },
    sessionCreatingTimeoutMs: env.SESSION_CREATING_TIMEOUT_MS,
    turns: {
      turnTimeoutMs: env.TURN_TIMEOUT_MS,
      stallGraceMs: env.HARNESS_STALL_GRACE_MS,
      pollMs: TURN_POLL_MS,
    },
    jobPolling: {
      busyMs: env.JOB_POLL_MS,
      idleMaxMs: Math.max(env.JOB_POLL_MS, env.JOB_POLL_IDLE_MAX_MS),
    },
    logLevel: env.LOG_LEVEL,
    ecs,
  };
}
