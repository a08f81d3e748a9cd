/**
 * `send` never bounces a patient client (issue 14 item 2): a message to a creating
 * session waits for ready (a failed bring-up answers with its reason), and behind a
 * running turn (the initial prompt included) it waits its turn, in order.
 */
import {
  BASE,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

interface Reply {
  parts?: Array<{ type: string; text?: string }>;
  error?: string;
}

/** The texts of the turns the harness finished, in order, from its raw event stream. */
async function finishedTurns(fx: RuntimeFixture, sessionId: string): Promise<string[]> {
  const res = await fetch(`${fx.baseUrl}${BASE}/sessions/${sessionId}/events?follow=1`, {
    headers: { authorization: 'Bearer test-master-key', 'last-event-id': '0' },
  });
  const reader = res.body!.getReader();
  let text = '';
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), 300)),
    ]);
    if (chunk && !chunk.done) text += Buffer.from(chunk.value).toString('utf8');
  }
  await reader.cancel();
  return [...text.matchAll(/^data: (.*)$/gm)]
    .map((m) => JSON.parse(m[1]!) as { type: string; parts?: Array<{ text: string }> })
    .filter((e) => e.type === 'turn_done')
    .map((e) => e.parts![0]!.text);
}

describe('send waits for ready and for its turn', () => {
  let fx: RuntimeFixture;
  let agentId: string;

  beforeAll(async () => {
    fx = await startRuntimeFixture();
    agentId = (await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' })).body.id;
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('a message right after create waits for the bring-up, then answers', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    expect(created.body.status).toBe('creating');
    const reply = await fx.api<Reply>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'early',
    });
    expect(reply.status).toBe(200);
    expect(reply.body.parts).toEqual([{ type: 'text', text: 'echo: early' }]);
  });

  it('a message behind the initial prompt waits for it: the initial prompt runs first', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
      initial_prompt: 'slow 1500',
    });
    const reply = await fx.api<Reply>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'second',
    });
    expect(reply.status).toBe(200);
    expect(reply.body.parts).toEqual([{ type: 'text', text: 'echo: second' }]);
    expect(await finishedTurns(fx, created.body.id)).toEqual(['echo: slow 1500', 'echo: second']);
  });

  it('messages sent while a turn runs queue in arrival order, none bounced', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    const id = created.body.id;
    await waitForStatus(fx, id, ['ready']);
    const sends = [fx.api<Reply>('POST', `${BASE}/sessions/${id}/message`, { text: 'slow 1500' })];
    for (const text of ['a', 'b', 'c']) {
      await new Promise((r) => setTimeout(r, 100));
      sends.push(fx.api<Reply>('POST', `${BASE}/sessions/${id}/message`, { text }));
    }
    const replies = await Promise.all(sends);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(replies.map((r) => r.body.parts![0]!.text)).toEqual([
      'echo: slow 1500',
      'echo: a',
      'echo: b',
      'echo: c',
    ]);
    expect(await finishedTurns(fx, id)).toEqual(['echo: slow 1500', 'echo: a', 'echo: b', 'echo: c']);
  });
});

describe('send to a session whose bring-up fails', () => {
  it('answers 410 with the failure reason once the bring-up fails', async () => {
    const fx = await startRuntimeFixture({ harnessMode: 'fail_boot' });
    try {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
      const reply = await fx.api<Reply>('POST', `${BASE}/sessions/${created.body.id}/message`, { text: 'x' });
      expect(reply.status).toBe(410);
      expect(reply.body.error).toBe(
        `session '${created.body.id}' is failed: git clone failed: repository not found`,
      );
    } finally {
      await fx.close();
    }
  });

  it('waits no longer than SESSION_CREATING_TIMEOUT_MS for a harness that never listens', async () => {
    const fx = await startRuntimeFixture({ harnessMode: 'hang', creatingTimeoutMs: 4000 });
    try {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm' });
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
      const started = Date.now();
      const reply = await fx.api<Reply>('POST', `${BASE}/sessions/${created.body.id}/message`, { text: 'x' });
      expect(reply.status).toBe(410);
      expect(reply.body.error).toMatch(/is failed: sandbox did not become ready within 4 s/);
      expect(Date.now() - started).toBeLessThan(12_000);
    } finally {
      await fx.close();
    }
  });
});
