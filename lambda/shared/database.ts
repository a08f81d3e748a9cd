/**
 * The Lambdas' PostgreSQL connection. The credentials come from the RDS-managed
 * secret (DB_SECRET_ARN, JSON with username and password), read at cold start and
 * kept for later invocations, also across `reset()` (which only closes connections,
 * so a frozen instance holds none). When the password was rotated the next
 * connection fails authentication: the credentials are dropped and the secret read
 * again once. The password is never logged.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import {
  isAuthenticationFailure,
  readRdsSecret,
  type RdsCredentials,
} from '../../platform/src/db/rds-secret';
import { databaseUrl, withDatabaseTls } from '../../platform/src/db/database-env';
import { functionDatabaseEnvSchema, parseLambdaEnv } from './settings';

export class LambdaDatabase {
  private pool: Promise<pg.Pool> | null = null;
  private cachedCredentials: Promise<RdsCredentials> | null = null;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly secrets: SecretsManagerClient = new SecretsManagerClient({}),
  ) {}

  private get settings() {
    return parseLambdaEnv(functionDatabaseEnvSchema, this.env);
  }

  credentials(): Promise<RdsCredentials> {
    if (!this.cachedCredentials) {
      const reading = readRdsSecret(this.secrets, this.settings.DB_SECRET_ARN);
      reading.catch(() => {
        if (this.cachedCredentials === reading) this.cachedCredentials = null;
      });
      this.cachedCredentials = reading;
    }
    return this.cachedCredentials;
  }

  /** postgres:// URL for tools that take one (migrate()); built fresh, never cached or logged. */
  async url(): Promise<string> {
    const s = this.settings;
    const c = await this.credentials();
    return withDatabaseTls(
      databaseUrl({ ...s, DB_USER: c.username, DB_PASSWORD: c.password, DB_SECRET_ARN: undefined }),
      s.DB_SSL,
    );
  }

  /** The cached pool; a pool whose credentials stopped working is replaced once. */
  async get(): Promise<pg.Pool> {
    const pool = await this.connect();
    try {
      const client = await pool.connect();
      client.release();
      return pool;
    } catch (err) {
      if (!isAuthenticationFailure(err)) throw err;
      // Rotated: read the secret again, once.
      this.cachedCredentials = null;
      await this.reset();
      return this.connect();
    }
  }

  private connect(): Promise<pg.Pool> {
    if (!this.pool) {
      const s = this.settings;
      this.pool = this.credentials().then((c) => {
        const pool = new pg.Pool({
          host: s.DB_HOST,
          port: s.DB_PORT,
          database: s.DB_NAME,
          user: c.username,
          password: c.password,
          // RDS certificates: the Lambda sets NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem.
          ssl: s.DB_SSL === 'require' ? { rejectUnauthorized: true } : false,
          // One invocation at a time per instance; a couple of connections serve parallel stops.
          max: 3,
          idleTimeoutMillis: 60_000,
          connectionTimeoutMillis: 10_000,
        });
        // An idle connection the server closed (failover, restart) must not crash the instance.
        pool.on('error', () => undefined);
        return pool;
      });
      this.pool.catch(() => (this.pool = null));
    }
    return this.pool;
  }

  async reset(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await (await pool.catch(() => null))?.end().catch(() => undefined);
  }
}
