import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export interface MigrateOptions {
  databaseUrl: string;
  /** Where the numbered .sql files are; defaults to the migrations folder beside this module. */
  directory?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

// Any constant shared by every migrator; it serialises concurrent runs
// (two deploys, or the migrate Lambda retried while a run is still going).
const MIGRATION_LOCK_KEY = 7_346_132_001;

/** Applies every migration not applied yet, in file-name order, each in its own transaction. */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const directory = options.directory ?? path.join(__dirname, 'migrations');
  const log = options.log ?? ((message, fields) => console.log(JSON.stringify({ msg: message, ...fields })));
  const files = fs
    .readdirSync(directory)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = fs.readFileSync(path.join(directory, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
      log('migration applied', { version: file });
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
