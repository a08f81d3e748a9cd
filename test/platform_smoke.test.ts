import { Client } from 'pg';
import { createTestDatabase } from './support/postgres';

test('migrations create the schema on a real PostgreSQL', async () => {
  const db = await createTestDatabase();
  const c = new Client({ connectionString: db.url });
  await c.connect();
  const { rows } = await c.query(
    "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('agents','sessions','jobs','warm_sandboxes')",
  );
  await c.end();
  await db.drop();
  expect(rows[0].n).toBe(4);
});
