/**
 * `npm run migrate` (and `node migrate-cli.js` in the platform image): applies pending
 * migrations to DATABASE_URL or DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD, with TLS as
 * DB_SSL says (database-env.ts: the same variables and defaults as the services).
 */
import { readEnv } from '@lap/sandbox-protocol';
import { databaseEnvSchema, databaseUrl, missingDatabaseEnv, withDatabaseTls } from './database-env';
import { migrate } from './migrate';

function migrationUrl(source: NodeJS.ProcessEnv): string {
  const reading = readEnv(databaseEnvSchema, source);
  if (!reading.ok)
    throw new Error(reading.problems.map((problem) => `${problem.key} ${problem.message}`).join('; '));
  const missing = missingDatabaseEnv(reading.data, { passwordSecret: false });
  if (missing.length > 0)
    throw new Error(
      `set DATABASE_URL=postgres://user:pass@host:5432/db, or DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: ${missing.join(', ')})`,
    );
  return withDatabaseTls(databaseUrl(reading.data), reading.data.DB_SSL);
}

migrate({ databaseUrl: migrationUrl(process.env) })
  .then((result) => {
    console.log(
      JSON.stringify({
        msg: 'migrations done',
        applied: result.applied,
        already_applied: result.alreadyApplied,
      }),
    );
  })
  .catch((err: Error) => {
    console.error(JSON.stringify({ level: 'fatal', msg: 'migration failed', error: err.message }));
    process.exit(1);
  });
