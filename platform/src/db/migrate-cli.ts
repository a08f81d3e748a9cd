/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL (or DB_HOST, DB_PORT,
 * DB_NAME, DB_USER, DB_PASSWORD, DB_SSL). The deployment runs it before the services roll.
 */
import { migrate } from './migrate';

function databaseUrl(env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const missing = ['DB_HOST', 'DB_NAME', 'DB_USER', 'DB_PASSWORD'].filter((k) => !env[k]);
  if (missing.length > 0)
    throw new Error(
      `set DATABASE_URL=postgres://user:pass@host:5432/db, or DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: ${missing.join(', ')})`,
    );
  const ssl = env.DB_SSL === 'require' ? '?sslmode=require' : '';
  return `postgres://${encodeURIComponent(env.DB_USER!)}:${encodeURIComponent(env.DB_PASSWORD!)}@${env.DB_HOST}:${env.DB_PORT ?? '5432'}/${encodeURIComponent(env.DB_NAME!)}${ssl}`;
}

migrate({ databaseUrl: databaseUrl(process.env) })
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
