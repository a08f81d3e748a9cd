/**
 * The RDS-managed database secret (DB_SECRET_ARN): JSON `{ username, password, ... }`
 * in Secrets Manager, rotated by RDS (every 7 days). The platform services and the
 * Lambdas read their database credentials from it here, so a rotation needs no restart:
 * a connection refused for its password makes the cached one go, and the next connection
 * reads the secret again. Error messages name the key, never the secret's value
 * (JSON.parse's own message would quote it).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { z } from 'zod';

const rdsSecretSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });
export type RdsCredentials = z.infer<typeof rdsSecretSchema>;

/** Parses the secret's SecretString; throws an error naming DB_SECRET_ARN, not the value. */
export function parseRdsSecret(secretString: string | undefined): RdsCredentials {
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    throw new Error('DB_SECRET_ARN: the secret is not JSON with username and password');
  }
  const parsed = rdsSecretSchema.safeParse(json);
  if (!parsed.success) throw new Error('DB_SECRET_ARN: the secret must hold username and password');
  return { username: parsed.data.username, password: parsed.data.password };
}

/** Reads and parses the current value of the secret. */
export async function readRdsSecret(
  client: SecretsManagerClient,
  secretArn: string,
): Promise<RdsCredentials> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return parseRdsSecret(out.SecretString);
}

export interface RdsPasswordOptions {
  client: SecretsManagerClient;
  secretArn: string;
  /** How long a read value is reused: a rotation reaches new connections within this time. */
  ttlMs?: number;
  /** The clock (tests advance it instead of waiting). */
  now?: () => number;
}

/** PostgreSQL's invalid_password and invalid_authorization_specification. */
const AUTHENTICATION_FAILURES = new Set(['28P01', '28000']);

/** Whether a connection error is the server refusing the credentials (e.g. a rotated password). */
export function isAuthenticationFailure(error: unknown): boolean {
  return AUTHENTICATION_FAILURES.has((error as { code?: string } | null)?.code ?? '');
}

/** The password function of `rdsSecretPassword`. */
export interface RdsPassword {
  (): Promise<string>;
  /** Drops the cached password: the next connection reads the secret again. */
  forget(): void;
}

/**
 * A password function for node-postgres (`password` in the Pool config, called for each
 * new connection): the secret's current password, read at most once per `ttlMs`, or again
 * right after `forget()`. Concurrent connections share one read; a failed read is not cached.
 */
export function rdsSecretPassword(options: RdsPasswordOptions): RdsPassword {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached: { password: Promise<string>; readAt: number } | null = null;
  const password = () => {
    if (!cached || now() - cached.readAt >= ttlMs) {
      const entry = {
        readAt: now(),
        password: readRdsSecret(options.client, options.secretArn).then((c) => c.password),
      };
      entry.password.catch(() => {
        if (cached === entry) cached = null;
      });
      cached = entry;
    }
    return cached.password;
  };
  return Object.assign(password, {
    forget: () => {
      cached = null;
    },
  });
}

export function isRdsPassword(value: unknown): value is RdsPassword {
  return typeof value === 'function' && typeof (value as Partial<RdsPassword>).forget === 'function';
}

/**
 * A node-postgres client class (the Pool's `Client` option) whose connections, when the server
 * refuses their password, make `password` forget it: after a rotation the first refused
 * connection is the only one, instead of every connection until the cache expires.
 */
export function forgetPasswordOnAuthenticationFailure(password: RdsPassword): typeof pg.Client {
  return class extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
      const forgetIfRefused = (error: unknown) => {
        if (isAuthenticationFailure(error)) password.forget();
      };
      if (!callback) {
        return super.connect().catch((error: unknown) => {
          forgetIfRefused(error);
          throw error;
        });
      }
      super.connect((error: Error) => {
        if (error) forgetIfRefused(error);
        callback(error);
      });
    }
  };
}
