import { Client } from 'pg';
import { migrate } from '../../../platform/src/db/migrate';
import { createTestDatabase } from '../../support/postgres';

describe('migrate', () => {
  it('creates the schema once; runs that overlap apply each migration exactly once', async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      const quiet = { databaseUrl: db.url, log: () => undefined };
      // Two deploys (or a retried migrate Lambda) at the same time: the advisory lock serialises them.
      const [first, second] = await Promise.all([migrate(quiet), migrate(quiet)]);
      const applied = [...first.applied, ...second.applied];
      expect(applied.length).toBeGreaterThan(0);
      expect(new Set(applied).size).toBe(applied.length);
      expect((await migrate(quiet)).applied).toEqual([]);

      const c = new Client({ connectionString: db.url });
      await c.connect();
      const { rows } = await c.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
      );
      await c.end();
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          'agents',
          'agent_skills',
          'jobs',
          'memories',
          'schema_migrations',
          'sessions',
          'skills',
          'warm_sandboxes',
        ]),
      );
    } finally {
      await db.drop();
    }
  });
});
