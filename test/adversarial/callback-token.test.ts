/**
 * A hostile agent keeps what its sandbox was given: CALLBACK_URL and CALLBACK_TOKEN, read
 * from the harness process's environment as any process of the sandbox can. After its
 * session ended (stopped by the user, or died long ago), it comes back with them: the token
 * must fetch nothing (the agent's current prompt and files) and post nothing (phases), and
 * the internal routes must not answer on the platform's public port at all. A live sandbox's
 * token opens only its own sandbox's callback routes, nothing the worker serves to the web.
 */
import fs from 'node:fs';
import { callbackToken } from '../../platform/src/sandbox/tokens';
import {
  BASE,
  SIGNING_KEY,
  startRuntimeFixture,
  waitFor,
  waitForStatus,
  type RuntimeFixture,
} from '../platform/runtime/support/runtime-fixture';

const SECRET_PROMPT = 'The deploy password hint lives in notes.md';
const SECRET_FILE = 'hint: correct horse battery staple';

/** What a process of the sandbox reads: the harness's environment, found through /proc. */
function sandboxCredentials(sandboxId: string): { callbackUrl: string; token: string } {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue; // gone, or not ours
    }
    const vars = new Map(
      environ
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
    );
    if (vars.get('SANDBOX_ID') === sandboxId && vars.has('CALLBACK_TOKEN'))
      return { callbackUrl: vars.get('CALLBACK_URL')!, token: vars.get('CALLBACK_TOKEN')! };
  }
  throw new Error(`no process of sandbox ${sandboxId} found`);
}

async function call(url: string, token: string, body?: unknown) {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

let fx: RuntimeFixture;
let agentId: string;

beforeAll(async () => {
  fx = await startRuntimeFixture();
  const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
    model: 'anthropic/claude-haiku-4-5',
    prompt: 'Be brief.',
  });
  agentId = agent.body.id;
});

afterAll(async () => {
  await fx?.close();
});

it("a stopped session's callback token fetches no prompt or files and posts no phase", async () => {
  const created = await fx.api<{ id: string }>('POST', `${BASE}/agents/${agentId}/session`, {});
  const id = created.body.id;
  await waitForStatus(fx, id, ['ready']);
  const { callbackUrl, token } = sandboxCredentials(id);
  const spec = `${callbackUrl}/api/v1/internal/sandboxes/${id}/spec`;
  const phase = `${callbackUrl}/api/v1/internal/sandboxes/${id}/phase`;
  // While the session lives, the token works (the harness needs it).
  expect((await call(spec, token)).status).toBe(200);

  expect((await fx.api('POST', `${BASE}/sessions/${id}/stop`)).status).toBe(200);
  await waitForStatus(fx, id, ['dead']);
  // Later the agent's prompt changes and gets a file: what a stolen token would be after.
  expect(
    (
      await fx.api('PATCH', `${BASE}/agents/${agentId}`, {
        prompt: SECRET_PROMPT,
        sandbox_files: [
          {
            name: 'notes.md',
            sandbox_path: '~/notes.md',
            content: Buffer.from(SECRET_FILE).toString('base64'),
          },
        ],
      })
    ).status,
  ).toBe(200);

  const fetched = await call(spec, token);
  expect(fetched.status).toBe(401);
  expect(fetched.text).not.toContain(SECRET_PROMPT);
  expect(fetched.text).not.toContain(Buffer.from(SECRET_FILE).toString('base64'));
  for (const report of [{ phase: 'cloning_repo' }, { phase: 'failed', failure_reason: 'x' }])
    expect((await call(phase, token, report)).status).toBe(401);
  const row = await fx.pool.query('SELECT status, phase, failure_reason FROM sessions WHERE id = $1', [id]);
  expect(row.rows[0]).toMatchObject({ status: 'dead', failure_reason: null });
});

it("a warm sandbox's token dies with its row, and with the session that claimed it", async () => {
  const warm = await fx.pool.query<{ id: string }>(
    `INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, expires_at)
     VALUES ($1, 'fp', now() + interval '30 minutes') RETURNING id`,
    [agentId],
  );
  const warmId = warm.rows[0]!.id;
  // No process here to read it from: the token such a sandbox's harness was given.
  const token = callbackToken(SIGNING_KEY, warmId);
  const url = `${fx.callbackUrl}/api/v1/internal/sandboxes/${warmId}/spec`;
  expect((await call(url, token)).status).toBe(200); // provisioning
  await fx.pool.query(`UPDATE warm_sandboxes SET status = 'dead' WHERE id = $1`, [warmId]);
  expect((await call(url, token)).status).toBe(401);

  // Claimed: lives exactly as long as the session that claimed it.
  const session = await fx.pool.query<{ id: string }>(
    `INSERT INTO sessions (agent_id, status) VALUES ($1, 'ready') RETURNING id`,
    [agentId],
  );
  await fx.pool.query(`UPDATE warm_sandboxes SET status = 'claimed', session_id = $2 WHERE id = $1`, [
    warmId,
    session.rows[0]!.id,
  ]);
  expect((await call(url, token)).status).toBe(200);
  await fx.pool.query(`UPDATE sessions SET status = 'dead' WHERE id = $1`, [session.rows[0]!.id]);
  expect((await call(url, token)).status).toBe(401);
});

it('the public port does not serve the internal routes; a callback token opens nothing else', async () => {
  const created = await fx.api<{ id: string }>('POST', `${BASE}/agents/${agentId}/session`, {});
  const id = created.body.id;
  await waitForStatus(fx, id, ['ready']);
  const { callbackUrl, token } = sandboxCredentials(id);
  expect(new URL(callbackUrl).port).not.toBe(new URL(fx.baseUrl).port);
  for (const prefix of ['/api/v1', '/v1']) {
    const publicSpec = await call(`${fx.baseUrl}${prefix}/internal/sandboxes/${id}/spec`, token);
    expect(publicSpec.status).toBe(404);
    expect(publicSpec.text).not.toContain('Be brief.');
    const publicPhase = await call(`${fx.baseUrl}${prefix}/internal/sandboxes/${id}/phase`, token, {
      phase: 'cloning_repo',
    });
    expect(publicPhase.status).toBe(404);
  }
  // The worker's routes for the web service do not take a sandbox's token.
  const handOff = await call(`${callbackUrl}/api/v1/internal/worker/sessions`, token, {
    session_id: id,
    agent_id: agentId,
    sealed_env: 'x',
  });
  expect(handOff.status).toBe(401);
  const logs = await call(`${callbackUrl}/api/v1/internal/worker/sessions/${id}/logs`, token);
  expect(logs.status).toBe(401);
  // Nor the master key's routes.
  const agents = await call(`${callbackUrl}/api/v1/managed_agents/agents`, token);
  expect(agents.status).toBe(404);
  await waitFor(async () => (await fx.api('POST', `${BASE}/sessions/${id}/stop`)).status === 200);
});
