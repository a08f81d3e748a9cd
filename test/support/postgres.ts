import crypto from 'node:crypto';
import { Client } from 'pg';
import { migrate } from '../../platform/src/db/migrate';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the run's embedded PostgreSQL server. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const base = process.env.LAP_TEST_PG_URL;
  if (!base)
    throw new Error('LAP_TEST_PG_URL is not set: run the tests through jest (test/support/global-setup.ts)');
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `${base}/${name}`;
  if (options.migrated !== false) await migrate({ databaseUrl: url, log: () => undefined });
  return {
    url,
    async drop() {
      const c = new Client({ connectionString: `${base}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
