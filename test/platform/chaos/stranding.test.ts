/**
 * Chaos: the ways a session used to strand, each acted out against the real runtime
 * (local launcher, real vault, the contract-7 harness double in ../runtime/support):
 * bad text, a reply PostgreSQL cannot store, a turn that never ends, a harness that
 * stalls and recovers, an agent process that dies.
 */
import {
  BASE,
  sandboxRefOf,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from '../runtime/support/runtime-fixture';

const TURN_TIMEOUT_MS = 3000;

interface Reply {
  parts?: Array<{ type: string; text?: string }>;
  error?: string;
}

describe('sessions that must not strand', () => {
  let fx: RuntimeFixture;
  let agentId: string;

  beforeAll(async () => {
    fx = await startRuntimeFixture({ turnTimeoutMs: TURN_TIMEOUT_MS, stallGraceMs: 40_000 });
    agentId = (await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', name: 'chaos' })).body.id;
  });
  afterAll(async () => {
    await fx?.close();
  });

  async function readySession(): Promise<string> {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready']);
    return created.body.id;
  }
  const send = (id: string, body: unknown) => fx.api<Reply>('POST', `${BASE}/sessions/${id}/message`, body);
  const status = async (id: string) => (await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${id}`)).body;

  it('text with a NUL character is a 400 naming the field, before any turn runs', async () => {
    const id = await readySession();
    const nul = await send(id, { text: 'hello\u0000world' });
    expect(nul.status).toBe(400);
    expect(nul.body.error).toBe('text: must not contain NUL characters');
    const inPart = await send(id, { parts: [{ type: 'text', text: 'a\u0000' }] });
    expect(inPart.status).toBe(400);
    expect(inPart.body.error).toMatch(/^parts\[0\]: must not contain NUL/);
    // Nothing ran: the harness's event log is empty and the session is untouched.
    expect((await status(id)).response).toBeNull();
    expect((await send(id, { text: 'still fine' })).body.parts).toEqual([
      { type: 'text', text: 'echo: still fine' },
    ]);
  });

  it('a 5,000-deep part is a 400 before any work, and the session still answers', async () => {
    const id = await readySession();
    // Written as text: JSON.stringify itself runs out of stack on this.
    const deep = `${'{"nested":'.repeat(5000)}{"leaf":"x"}${'}'.repeat(5000)}`;
    const res = await fetch(`${fx.baseUrl}${BASE}/sessions/${id}/message`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-master-key', 'content-type': 'application/json' },
      body: `{"parts":[{"type":"text","text":"deep","extra":${deep}}]}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'parts[0]: must not be nested deeper than 32 levels' });
    expect((await send(id, { text: 'after' })).body.parts).toEqual([{ type: 'text', text: 'echo: after' }]);
  });

  it('a reply with a NUL character reaches the caller and is stored (as U+FFFD)', async () => {
    const id = await readySession();
    const res = await send(id, { text: 'nul' });
    expect(res.status).toBe(200);
    expect(res.body.parts).toEqual([{ type: 'text', text: 'echo: a\u0000b' }]);
    expect((await status(id)).response).toEqual({ parts: [{ type: 'text', text: 'echo: a\uFFFDb' }] });
  });

  it('a turn past TURN_TIMEOUT_MS is aborted at the harness and answered 504; the session stays', async () => {
    const id = await readySession();
    const started = Date.now();
    const res = await send(id, { text: 'slow 20000' });
    const took = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.body.error).toMatch(/did not finish within 3 s \(TURN_TIMEOUT_MS\) and was aborted/);
    expect(took).toBeLessThan(TURN_TIMEOUT_MS + 4000);
    // The harness was told: its turn is over, the next one runs at once.
    expect((await send(id, { text: 'next' })).body.parts).toEqual([{ type: 'text', text: 'echo: next' }]);
    expect((await status(id)).status).toBe('ready');
  }, 30_000);

  it('a harness that drops the connection and stalls 25 s, then recovers, keeps its session', async () => {
    const id = await readySession();
    const res = await send(id, { text: 'stall 25000' });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatch(/the harness answers again and the session stays ready/);
    expect((await status(id)).status).toBe('ready');
    expect((await send(id, { text: 'recovered' })).body.parts).toEqual([
      { type: 'text', text: 'echo: recovered' },
    ]);
  }, 60_000);

  it('an agent process that died (harness /health 503 dead) ends the session with the reason', async () => {
    const id = await readySession();
    const res = await send(id, { text: 'die' });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatch(
      /agent process dead: opencode exited \(code 1, signal null\); the session is now dead/,
    );
    const sandbox = await sandboxRefOf(fx, id);
    const dead = await status(id);
    expect(dead.status).toBe('dead');
    expect(dead.failure_reason).toBe(
      'the harness reports its agent process dead: opencode exited (code 1, signal null)',
    );
    // Its sandbox is stopped, and a later send says why instead of trying.
    expect((await fx.launcher.describe(sandbox))?.lifecycle).toBe('stopped');
    const after = await send(id, { text: 'anyone?' });
    expect(after.status).toBe(410);
    expect(after.body.error).toMatch(/is dead: the harness reports its agent process dead/);
  });
});
