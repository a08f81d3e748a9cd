import pg, { Client } from 'pg';
import { createPool } from '../../../../platform/src/db/pool';
import { createTestDatabase } from '../../../support/postgres';

/** A test file's own migrated database, with a platform pool and a `Seed` client on it. */
export interface SeededDatabase {
  pool: pg.Pool;
  seed: Seed;
  /** Closes the seed client and the pool, then drops the database. */
  close(): Promise<void>;
}

export async function openSeededDatabase(poolMax: number): Promise<SeededDatabase> {
  const database = await createTestDatabase();
  const pool = createPool({ url: database.url, max: poolMax });
  const seed = await Seed.connect(database.url);
  return {
    pool,
    seed,
    close: async () => {
      await seed.close();
      await pool.end();
      await database.drop();
    },
  };
}

/** Direct SQL for test setup (agents, sessions, warm rows in a given state). */
export class Seed {
  constructor(readonly client: Client) {}

  static async connect(url: string): Promise<Seed> {
    const client = new Client({ connectionString: url });
    await client.connect();
    return new Seed(client);
  }

  async agent(fields: { prompt?: string } = {}): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO agents (model, prompt) VALUES ('gpt-4o', $1) RETURNING id`,
      [fields.prompt ?? 'You are helpful.'],
    );
    return rows[0]!.id;
  }

  /** A session created `ageMinutes` ago with the given status and idle clock. */
  async session(
    agentId: string,
    fields: {
      status?: string;
      ageMinutes?: number;
      idleMinutes?: number;
      idleTimeoutMs?: number;
      sandboxRef?: string | null;
    } = {},
  ): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO sessions (agent_id, status, created_at, last_seen_at, idle_timeout_ms, sandbox_ref)
       VALUES ($1, $2, now() - $3 * interval '1 minute', now() - $4 * interval '1 minute', $5, $6) RETURNING id`,
      [
        agentId,
        fields.status ?? 'ready',
        fields.ageMinutes ?? 0,
        fields.idleMinutes ?? 0,
        fields.idleTimeoutMs ?? 86_400_000,
        fields.sandboxRef ?? null,
      ],
    );
    return rows[0]!.id;
  }

  /** A warm row with the agent's current fingerprint unless `fingerprint` is given. */
  async warm(
    agentId: string,
    fields: {
      status?: string;
      expiresInMinutes?: number;
      sandboxRef?: string | null;
      fingerprint?: string;
    } = {},
  ): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, status, sandbox_ref, sandbox_url, vault_admin_url, expires_at)
       VALUES ($1, coalesce($2, lap_agent_fingerprint($1)), $3, $4, 'http://10.0.0.9:4096', 'https://10.0.0.9:14323',
               now() + $5 * interval '1 minute') RETURNING id`,
      [
        agentId,
        fields.fingerprint ?? null,
        fields.status ?? 'warm',
        fields.sandboxRef ?? null,
        fields.expiresInMinutes ?? 30,
      ],
    );
    return rows[0]!.id;
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
