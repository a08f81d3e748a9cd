/**
 * The two containers of a sandbox and the environment each one reads. Three writers fill it:
 * the image (HOME, WORKSPACE_DIR, VAULT_RELAY_PATH, ...), the task definition (the same for
 * every sandbox of a harness: lib/constructs/sandbox-task-definitions.ts) and the launcher
 * (per sandbox: ids and tokens, RunTask container overrides on ECS; platform/src/sandbox).
 * Local mode's launcher plays all three. The harness and the vault parse their environment
 * with these schemas; the CDK app and the launcher write to their input types.
 */
import { z } from 'zod';
import { envInteger, envList, envLogLevel, envPort, nodeRuntimeEnv, type PlainEnvironment } from './env';
import { HARNESS_PORT, HARNESS_TTY_COMMAND_ENV, harnessIdSchema } from './harness';
import { VAULT_ADMIN_PORT, VAULT_PROXY_PORT } from './vault';

/** Container names in every sandbox task definition; the launcher overrides them by name. */
export const SANDBOX_CONTAINERS = { harness: 'harness', vault: 'vault' } as const;

/** The stub env file the vault writes (`KEY=stub` lines) and the harness waits for: one path for both. */
const vaultEnvFile = z.string({
  error: 'is required: the stub env file the vault writes and the harness waits for',
});

// ---------------------------------------------------------------------------
// Harness container. Real secrets never appear here.
// ---------------------------------------------------------------------------

export const harnessContainerEnvSchema = z.object({
  SANDBOX_ID: z.string({ error: 'is required (the session or warm sandbox id)' }),
  HARNESS_ID: harnessIdSchema,
  HARNESS_TOKEN: z
    .string({ error: 'is required (bearer token of the harness API)' })
    .min(16, 'must be at least 16 characters'),
  CALLBACK_URL: z.url({ error: 'must be the URL the sandbox reaches the platform at' }),
  CALLBACK_TOKEN: z
    .string({ error: 'is required (bearer token for the internal sandbox routes)' })
    .min(16, 'must be at least 16 characters'),
  PORT: envPort({ min: 0 }).default(HARNESS_PORT),
  HARNESS_BIND_HOST: z.string().default('0.0.0.0'),
  VAULT_ENV_FILE: vaultEnvFile,
  VAULT_ENV_TIMEOUT_MS: envInteger({ min: 1, hint: 'milliseconds' }).default(600_000),
  WORKSPACE_DIR: z.string().default('/workspace'),
  HOME: z.string({ error: 'is required' }),
  [HARNESS_TTY_COMMAND_ENV]: z.string().optional(),
  /** The opencode program (default: the one installed with the harness). */
  OPENCODE_BIN: z.string().optional(),
  /** How often the agent process (opencode) is restarted within 10 min before it is declared dead. */
  HARNESS_AGENT_RESTARTS: envInteger({ min: 0, max: 100 }).default(3),
  /** How long an idle agent process (opencode) runs before it is stopped until the next request (0: never). */
  HARNESS_AGENT_PARK_MS: envInteger({ min: 0, hint: 'milliseconds, 0: never' }).default(10_000),
  LOG_LEVEL: envLogLevel(),
  // The vault as proxy and the deployment CA, passed on to the agent's tools under every
  // spelling they read (the harness's own calls to the platform do not use the proxy).
  HTTPS_PROXY: z.string().optional(),
  HTTP_PROXY: z.string().optional(),
  https_proxy: z.string().optional(),
  http_proxy: z.string().optional(),
  NO_PROXY: z.string().optional(),
  no_proxy: z.string().optional(),
  SSL_CERT_FILE: z.string().optional(),
  ...nodeRuntimeEnv,
});
type HarnessEnvInput = z.input<typeof harnessContainerEnvSchema>;

/** What the launcher sets per sandbox. */
export const HARNESS_LAUNCH_ENV = [
  'SANDBOX_ID',
  'HARNESS_ID',
  'PORT',
  'HARNESS_TOKEN',
  'CALLBACK_URL',
  'CALLBACK_TOKEN',
] as const;
export type HarnessLaunchEnvironment = Pick<HarnessEnvInput, (typeof HARNESS_LAUNCH_ENV)[number]>;
/** What the image sets (sandbox/harness/Dockerfile). */
export const HARNESS_IMAGE_ENV = ['HOME'] as const;
/** What the task definition must give: everything but the launcher's and the image's part. */
export type HarnessTaskEnvironment = Omit<
  HarnessEnvInput,
  (typeof HARNESS_LAUNCH_ENV)[number] | (typeof HARNESS_IMAGE_ENV)[number]
>;

// ---------------------------------------------------------------------------
// Vault container. Deployment-wide credentials come as REAL_<KEY> (the value, an ECS secret)
// + HOST_<KEY> (comma list of destination rules it may go to), e.g. REAL_LITELLM_API_KEY +
// HOST_LITELLM_API_KEY=gateway host; the vault reads every such pair.
// ---------------------------------------------------------------------------

/** Prefixes of a deployment-wide credential's two variables. */
export const DEPLOYMENT_CREDENTIAL_ENV = { value: 'REAL_', hosts: 'HOST_' } as const;
/** A deployment-wide credential's variables (REAL_<KEY> or HOST_<KEY>). */
export const DEPLOYMENT_CREDENTIAL_VARIABLE = /^(REAL|HOST)_[A-Za-z_][A-Za-z0-9_]*$/;

const vaultPort = (fallback: number) =>
  envPort({ min: 0, message: 'must be a TCP port number between 0 (any free port) and 65535' }).default(
    fallback,
  );

export const vaultContainerEnvSchema = z.object({
  VAULT_PORT: vaultPort(VAULT_PROXY_PORT),
  VAULT_ADMIN_PORT: vaultPort(VAULT_ADMIN_PORT),
  /** The proxy serves only the harness next to it (same network namespace): loopback. */
  VAULT_PROXY_BIND_HOST: z.string().default('127.0.0.1'),
  /** The platform reaches the admin port from outside the sandbox: all interfaces. */
  VAULT_ADMIN_BIND_HOST: z.string().default('0.0.0.0'),
  /** Where to publish the CA certificate (public) for the harness to trust. */
  VAULT_CA_CERT_OUT: z.string().optional(),
  VAULT_ADMIN_TOKEN: z
    .string({ error: 'is required: the one-time token the platform presents to POST /v1/secrets' })
    .min(16, 'must be at least 16 characters (a random one-time token)'),
  VAULT_ENV_FILE: vaultEnvFile,
  /** The deployment CA: PEM text (ECS secrets) or files (local mode). */
  VAULT_CA_CERT: z.string().optional(),
  VAULT_CA_KEY: z.string().optional(),
  VAULT_CA_CERT_PATH: z.string().optional(),
  VAULT_CA_KEY_PATH: z.string().optional(),
  /** Extra PEM file of CAs trusted for upstream TLS (private gateways, tests). */
  VAULT_UPSTREAM_CA_PATH: z.string().optional(),
  EGRESS_ALLOW_OUT: envList().default([]),
  EGRESS_DENY_OUT: envList().default([]),
  /** Destinations always reachable (the gateway and platform hosts). */
  EGRESS_ALWAYS_ALLOW: envList().default([]),
  /** The deployment's own ranges (IPs, CIDRs), blocked besides link-local and metadata. */
  EGRESS_INTERNAL_CIDRS: envList().default([]),
  /** `<host>:8443`: dial every upstream through the egress gateway (enforced egress). */
  VAULT_EGRESS_GATEWAY: z
    .string()
    .regex(
      /^[A-Za-z0-9.-]+:\d{1,5}$/,
      'must be host:port of the egress gateway, e.g. egress.lap.internal:8443',
    )
    .optional(),
  /** The native relay binary (default: where `npm run build:relay` puts it). */
  VAULT_RELAY_PATH: z.string().optional(),
  LOG_LEVEL: envLogLevel(),
  ...nodeRuntimeEnv,
});
type VaultEnvInput = z.input<typeof vaultContainerEnvSchema>;

/** Delivered as ECS secrets on AWS (besides every REAL_<KEY>). */
export const VAULT_SECRET_ENV = ['VAULT_CA_CERT', 'VAULT_CA_KEY'] as const;
export type VaultSecretName = (typeof VAULT_SECRET_ENV)[number] | `REAL_${string}`;
/** What the launcher sets per sandbox. */
export const VAULT_LAUNCH_ENV = ['VAULT_ADMIN_TOKEN'] as const;
export type VaultLaunchEnvironment = Pick<VaultEnvInput, (typeof VAULT_LAUNCH_ENV)[number]>;
/** What the task definition gives as plain environment (the secrets go through `secrets`). */
export type VaultTaskEnvironment = Omit<
  PlainEnvironment<typeof vaultContainerEnvSchema, VaultSecretName>,
  (typeof VAULT_LAUNCH_ENV)[number]
> & { [Hosts in `HOST_${string}`]?: string };
export type VaultTaskSecrets<Secret> = Record<(typeof VAULT_SECRET_ENV)[number], Secret> & {
  [Value in `REAL_${string}`]?: Secret;
};
