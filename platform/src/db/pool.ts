import pg from 'pg';
import { forgetPasswordOnAuthenticationFailure, isRdsPassword } from './rds-secret';

/** Anything that runs a query: the pool itself or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export interface PoolOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Connections per process; the web service is I/O bound, so a handful serves thousands of req/s. */
  max?: number;
  /** TLS to the database (RDS/Aurora): passed through to node-postgres. */
  ssl?: pg.PoolConfig['ssl'];
  /**
   * Connections unused this long are closed (default 10 s; 0 keeps them): a platform
   * with nothing to do holds no connection, so a serverless database can pause.
   */
  idleTimeoutMs?: number;
  /** Where to report errors of idle connections (a restarted database); they would otherwise crash the process. */
  onIdleError?: (err: Error) => void;
  /**
   * The password, asked for each new connection (e.g. `rdsSecretPassword`, so a rotated
   * password is picked up without a restart); any password in `url` is then ignored.
   */
  password?: () => Promise<string>;
}

/** Connection settings from the URL; with a password function, as fields: node-postgres lets a URL's password (even an empty one) override it. */
function connectionSettings(url: string, password: PoolOptions['password']): pg.PoolConfig {
  if (!password) return { connectionString: url };
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname),
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.slice(1)),
    user: decodeURIComponent(u.username),
    password,
  };
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    ...connectionSettings(options.url, options.password),
    max: options.max ?? 10,
    ssl: options.ssl,
    // A password refused after an RDS rotation is read again for the very next connection.
    Client: isRdsPassword(options.password)
      ? forgetPasswordOnAuthenticationFailure(options.password)
      : undefined,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (err) => options.onIdleError?.(err));
  return pool;
}

/** Runs fn in one transaction on one pooled connection: COMMIT on success, ROLLBACK on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in URLs are user input: anything that is not a UUID can name no row, so it is never sent to PostgreSQL. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
