/**
 * The platform's environment, validated once at startup. Every problem is
 * collected into ONE error that names each bad or missing key and how to fix it,
 * so an operator fixes a deployment in one round instead of one key per restart.
 */
import { parseDestinationRules } from '@lap/vault/src/destination-rules';
import { z } from 'zod';
import {
  ecsSandboxSettingsSchema,
  toEcsSandboxSettings,
  type EcsSandboxSettings,
} from './sandbox/ecs/settings';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** How often a waiting message looks again (session ready, initial prompt done, harness free). */
const TURN_POLL_MS = 500;

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

function integer(defaultValue: number, min: number, hint: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return defaultValue;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be an integer >= ${min} (${hint}), got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

function oneOf<T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number] | undefined) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') {
        if (defaultValue !== undefined) return defaultValue as T[number];
        ctx.addIssue({ code: 'custom', message: `is required: set it to one of ${values.join(', ')}` });
        return z.NEVER;
      }
      if (!(values as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${v}"` });
        return z.NEVER;
      }
      return v as T[number];
    });
}

const httpUrl = (hint: string) =>
  optionalText.refine(
    (v) => v === undefined || /^https?:\/\/[^\s/]+/i.test(v),
    `must be an http(s) URL (${hint})`,
  );

/** Where the vault may send GIT_TOKEN: the vault's own destination rules (host, *.domain, IP, CIDR). */
const gitTokenHosts = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const hosts = (v ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    if (hosts.length === 0) return ['github.com'];
    try {
      parseDestinationRules(hosts);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a comma list of git hosts, e.g. github.com,gitlab.example.com: ${(error as Error).message}`,
      });
      return z.NEVER;
    }
    return hosts;
  });

/** The raw environment: one field per variable, with its own rule and fix. */
const envSchema = z.object({
  PLATFORM_ROLE: oneOf(['all', 'web', 'worker'] as const, 'all'),
  PORT: integer(3000, 1, 'the HTTP port the web role listens on'),
  // The worker's internal listener (worker and all roles): sandbox callbacks and web -> worker
  // calls, never the public API; the load balancer never routes to it.
  INTERNAL_PORT: integer(3001, 1, 'the internal listener of the worker and all roles'),
  // How the web role reaches a worker's internal listener (session hand-off, pokes, sandbox logs).
  WORKER_INTERNAL_URL: httpUrl("the workers' internal listener, e.g. http://worker.lap-dev.internal:3001"),
  DATABASE_URL: optionalText.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    'must be a postgres:// URL, e.g. postgres://user:pass@host:5432/lap',
  ),
  DB_HOST: optionalText,
  DB_PORT: integer(5432, 1, 'the PostgreSQL port'),
  DB_NAME: optionalText,
  DB_USER: optionalText,
  DB_PASSWORD: optionalText,
  // The RDS-managed secret (JSON with username and password). When set, every new
  // connection takes the password from it (re-read at most once a minute), so an RDS
  // rotation needs no restart; DB_PASSWORD is then optional and ignored.
  DB_SECRET_ARN: optionalText.refine(
    (v) => v === undefined || /^arn:aws[a-z-]*:secretsmanager:/.test(v),
    'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...): the RDS-managed secret with username and password',
  ),
  DB_SSL: oneOf(['require', 'disable'] as const, 'disable'),
  MASTER_KEY: optionalText.refine(
    (v) => v === undefined || v.length >= 8,
    'must be at least 8 characters (the API bearer key)',
  ),
  HARNESS_TOKEN_SIGNING_KEY: optionalText.refine(
    (v) => v === undefined || v.length >= 16,
    'must be at least 16 characters (e.g. `openssl rand -hex 32`)',
  ),
  SECRET_STORE: oneOf(['local', 'kms'] as const, 'local'),
  ENCRYPTION_KEY: optionalText,
  KMS_KEY_ARN: optionalText.refine(
    (v) => v === undefined || v.startsWith('arn:'),
    'must be a KMS key ARN (arn:aws:kms:...)',
  ),
  SANDBOX_LAUNCHER: oneOf(['local', 'ecs'] as const, 'local'),
  LITELLM_API_BASE: httpUrl('the LiteLLM gateway, e.g. https://gateway.example.com'),
  LITELLM_API_KEY: optionalText,
  // Local mode: the real token the vaults swap in for the stub GIT_TOKEN the harness clones with.
  // A secret: no rule here ever puts its value into a problem message.
  GIT_TOKEN: optionalText,
  GIT_TOKEN_HOSTS: gitTokenHosts,
  CALLBACK_URL: httpUrl("how sandboxes reach the worker's internal listener, e.g. http://10.0.1.5:3001"),
  BASE_URL: httpUrl('the public URL of the API'),
  VAULT_CA_CERT: optionalText.refine(
    (v) => v === undefined || v.includes('-----BEGIN CERTIFICATE-----'),
    'must be a PEM certificate (-----BEGIN CERTIFICATE-----)',
  ),
  // Enforced egress (AWS): the key egress tokens are derived with, shared with the egress gateway.
  EGRESS_TOKEN_KEY: optionalText.refine(
    (v) => v === undefined || v.length >= 16,
    'must be at least 16 characters (the egress gateway shares it), e.g. `openssl rand -hex 32`',
  ),
  PREINSTALLED_GITHUB_REPO: httpUrl('a git repository URL cloned when an agent has no repo_url'),
  WARM_POOL_SIZE: integer(2, 0, '0 turns the warm pool off'),
  WARM_POOL_RECENT_AGENT_HOURS: integer(24, 1, 'hours'),
  WARM_POOL_MAX_PROVISIONING: integer(2, 1, 'sandboxes started per top-up cycle'),
  WARM_POOL_TTL_MINUTES: integer(30, 1, 'minutes'),
  SESSION_CREATING_TIMEOUT_MS: integer(600_000, 1000, 'milliseconds'),
  // One turn (a message, the initial prompt) may run this long at the harness; then the
  // platform POSTs /abort and answers 504. The upstream platform's bound is the same 10 minutes.
  TURN_TIMEOUT_MS: integer(600_000, 1000, 'milliseconds a turn may run before it is aborted'),
  // A harness whose connection broke gets this long to answer /health again before its
  // session is declared dead (a stall is not a death).
  HARNESS_STALL_GRACE_MS: integer(60_000, 0, 'milliseconds a silent harness has to answer again'),
  // The job runner polls every JOB_POLL_MS while there is work and doubles the wait on each
  // empty look up to JOB_POLL_IDLE_MAX_MS, so an idle platform leaves its database alone.
  JOB_POLL_MS: integer(1000, 50, 'milliseconds between looks for jobs while there is work'),
  JOB_POLL_IDLE_MAX_MS: integer(300_000, 50, 'the longest wait between looks for jobs while idle'),
  // Database connections idle this long are closed (0 keeps them), so the database can pause.
  DB_POOL_IDLE_TIMEOUT_MS: integer(10_000, 0, 'milliseconds an unused database connection is kept'),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
});

type Env = z.output<typeof envSchema>;

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
  if (!env.DATABASE_URL) {
    const missing: string[] = (['DB_HOST', 'DB_NAME', 'DB_USER'] as const).filter((k) => !env[k]);
    if (!env.DB_PASSWORD && !env.DB_SECRET_ARN) missing.push('DB_PASSWORD or DB_SECRET_ARN');
    if (missing.length > 0)
      problems.push(
        `DATABASE_URL is missing: set DATABASE_URL=postgres://user:pass@host:5432/db, or all of DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD or DB_SECRET_ARN (missing: ${missing.join(', ')})`,
      );
  }
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
  const result = ecsSandboxSettingsSchema.safeParse(source);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0]);
      problems.push(
        source[key] === undefined || source[key] === ''
          ? `${key} is required with SANDBOX_LAUNCHER=ecs: ${ECS_HINTS[key] ?? 'see platform/src/sandbox/ecs/settings.ts'}`
          : `${issue.path.join('.')} ${issue.message}`,
      );
    }
    return undefined;
  }
  return toEcsSandboxSettings(result.data);
}

function databaseUrl(env: Env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const user = encodeURIComponent(env.DB_USER!);
  // With DB_SECRET_ARN the password comes from the secret: a DB_PASSWORD read at start goes stale.
  const password = env.DB_SECRET_ARN ? '' : `:${encodeURIComponent(env.DB_PASSWORD!)}`;
  return `postgres://${user}${password}@${env.DB_HOST}:${env.DB_PORT}/${encodeURIComponent(env.DB_NAME!)}`;
}

/** Validates the environment; throws one ConfigError listing every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const parsed = envSchema.safeParse(source);
  let env: Env;
  const problems: string[] = [];
  if (parsed.success) env = parsed.data;
  else {
    const badKeys = new Set(parsed.error.issues.map((i) => String(i.path[0])));
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
    // Parse again without the bad keys so the cross-field rules of the others are reported too.
    const rest = Object.fromEntries(Object.entries(source).filter(([k]) => !badKeys.has(k)));
    env = envSchema.parse(rest);
    problems.push(...crossFieldProblems(env).filter((p) => !badKeys.has(p.split(' ')[0]!)));
    if (env.SANDBOX_LAUNCHER === 'ecs') ecsSettings(source, problems);
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
