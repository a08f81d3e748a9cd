/**
 * How every process reaches PostgreSQL, from its environment: the web and worker services,
 * `migrate-cli` and the Lambdas read these variables with these rules and defaults. Either
 * DATABASE_URL, or the parts (DB_HOST ...) with the password itself (DB_PASSWORD) or the
 * RDS-managed secret holding it (DB_SECRET_ARN).
 */
import { envChoice, envInteger, envPort } from '@lap/sandbox-protocol';
import { z } from 'zod';

export const databaseEnv = {
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL, e.g. postgres://user:pass@host:5432/lap')
    .optional(),
  DB_HOST: z.string({ error: 'is required: the database endpoint' }).optional(),
  DB_PORT: envPort().default(5432),
  DB_NAME: z.string({ error: 'is required: the database name' }).optional(),
  DB_USER: z.string().optional(),
  DB_PASSWORD: z.string().optional(),
  // The RDS-managed secret (JSON with username and password). The services take the password
  // from it for each new connection (re-read at most once a minute), so an RDS rotation needs
  // no restart; DB_PASSWORD is then optional and ignored.
  DB_SECRET_ARN: z
    .string({
      error:
        'is required: the ARN of the database secret (the RDS-managed secret with username and password)',
    })
    .regex(
      /^arn:aws[a-z-]*:secretsmanager:/,
      'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...): the RDS-managed secret with username and password',
    )
    .optional(),
  // TLS to the database, verifying its certificate (the RDS CA bundle: NODE_EXTRA_CA_CERTS).
  // `require` unless told otherwise: a database reached over a network is never read in clear
  // by default; local mode, which starts its own PostgreSQL on loopback, sets `disable`.
  DB_SSL: envChoice(['require', 'disable']).default('require'),
  // Database connections idle this long are closed (0 keeps them), so the database can pause.
  DB_POOL_IDLE_TIMEOUT_MS: envInteger({
    min: 0,
    hint: 'milliseconds an unused database connection is kept',
  }).default(10_000),
};

export const databaseEnvSchema = z.object(databaseEnv);
export type DatabaseEnv = z.output<typeof databaseEnvSchema>;

/**
 * Which variables are missing to build a connection URL, if any (none with DATABASE_URL). The
 * password is DB_PASSWORD, or with `passwordSecret` either it or DB_SECRET_ARN.
 */
export function missingDatabaseEnv(env: DatabaseEnv, options: { passwordSecret: boolean }): string[] {
  if (env.DATABASE_URL) return [];
  const missing: string[] = (['DB_HOST', 'DB_NAME', 'DB_USER'] as const).filter((key) => !env[key]);
  if (!env.DB_PASSWORD && !(options.passwordSecret && env.DB_SECRET_ARN))
    missing.push(options.passwordSecret ? 'DB_PASSWORD or DB_SECRET_ARN' : 'DB_PASSWORD');
  return missing;
}

/**
 * The connection URL. With DB_SECRET_ARN the password is left out: the pool takes it from the
 * secret for each connection (a DB_PASSWORD read at start goes stale on rotation).
 */
export function databaseUrl(
  env: Pick<
    DatabaseEnv,
    'DATABASE_URL' | 'DB_HOST' | 'DB_PORT' | 'DB_NAME' | 'DB_USER' | 'DB_PASSWORD' | 'DB_SECRET_ARN'
  >,
): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const user = encodeURIComponent(env.DB_USER!);
  const password = env.DB_SECRET_ARN ? '' : `:${encodeURIComponent(env.DB_PASSWORD!)}`;
  return `postgres://${user}${password}@${env.DB_HOST}:${env.DB_PORT}/${encodeURIComponent(env.DB_NAME!)}`;
}

/**
 * `url` for a tool that takes only a URL (the migrations): with DB_SSL=require, TLS verifying
 * the server's certificate and name, as the services' pools do.
 */
export function withDatabaseTls(url: string, ssl: DatabaseEnv['DB_SSL']): string {
  if (ssl !== 'require') return url;
  return `${url}${url.includes('?') ? '&' : '?'}sslmode=verify-full`;
}
