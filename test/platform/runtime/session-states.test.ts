/**
 * The session state machine (lifecycle/session-states.ts) on real PostgreSQL: each
 * change happens only from the statuses it names, whoever races for it.
 */
import type pg from 'pg';
import { createPool } from '../../../platform/src/db/pool';
import { insertSession } from '../../../platform/src/db/sessions';
import {
  advancePhase,
  endSessionsOfStoppedSandbox,
  failSession,
  markDead,
  markReady,
  SESSION_TRANSITIONS,
} from '../../../platform/src/lifecycle/session-states';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

describe('session state machine', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let agentId: string;
  const sandbox = { sandboxUrl: 'http://127.0.0.1:1', ttyUrl: null, harnessSessionId: 'h1' };

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool({ url: database.url, max: 4 });
    agentId = (await pool.query<{ id: string }>(`INSERT INTO agents (model) VALUES ('m') RETURNING id`))
      .rows[0]!.id;
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });
  const newSession = async () =>
    (await insertSession(pool, { agentId, title: null, initialPrompt: null })).id;

  it('names the predecessors of every status', () => {
    expect(SESSION_TRANSITIONS).toEqual({
      ready: ['creating'],
      failed: ['creating'],
      dead: ['creating', 'ready'],
    });
  });

  it('creating -> ready -> dead; a ready session cannot fail, a dead one cannot come back', async () => {
    const id = await newSession();
    expect(await advancePhase(pool, id, 'pod_running')).toBe(true);
    expect(await advancePhase(pool, id, 'pod_pending')).toBe(false); // never backwards
    expect((await markReady(pool, id, sandbox))?.harness_session_id).toBe('h1');
    expect(await advancePhase(pool, id, 'harness_listening')).toBe(false); // phases only while creating
    expect(await failSession(pool, id, 'too late')).toBeNull();
    expect((await markDead(pool, id, 'stopped'))?.status).toBe('dead');
    expect(await markReady(pool, id, sandbox)).toBeNull();
    expect(await markDead(pool, id, 'again')).toBeNull();
  });

  it('a stopped sandbox fails a creating session and ends a ready one, once', async () => {
    const creating = await newSession();
    const ready = await newSession();
    await pool.query(`UPDATE sessions SET sandbox_ref = 'ref-a' WHERE id = $1`, [creating]);
    await pool.query(`UPDATE sessions SET sandbox_ref = 'ref-b' WHERE id = $1`, [ready]);
    await markReady(pool, ready, sandbox);
    expect(
      (await endSessionsOfStoppedSandbox(pool, 'ref-a', 'sandbox stopped: x')).map((s) => s.status),
    ).toEqual(['failed']);
    expect(
      (await endSessionsOfStoppedSandbox(pool, 'ref-b', 'sandbox stopped: y')).map((s) => s.status),
    ).toEqual(['dead']);
    expect(await endSessionsOfStoppedSandbox(pool, 'ref-b', 'sandbox stopped: late event')).toEqual([]);
  });
});
