/**
 * node:test file, run by ../sdk.test.ts (the SDK is ESM; Jest here is CommonJS).
 * The SDK against the control-plane TEST DOUBLE (support/fake-lap-server.ts), for the
 * paths the real platform cannot produce on demand: dropped event streams, failed
 * bring-up, timeouts. The end-to-end runs against real local mode are in e2e-local-*.ts.
 */
import { expect } from 'expect';
import { after, before, test } from 'node:test';
import {
  Agent,
  LapApiError,
  LapConnectionError,
  Session,
  SessionFailedError,
  SessionTimeoutError,
  Skill,
  createClaudeStream,
  foldSdkMessages,
  type SessionEvent,
  type WatchedEvent,
} from '../../../clients/sdk/src/index.js';
import { startFakeLapServer, type FakeLapServer } from '../support/fake-lap-server.js';
import { unusedPort, waitUntil } from '../support/loopback.js';

let lap: FakeLapServer;
let connection: { apiKey: string; baseUrl: string };

before(async () => {
  lap = await startFakeLapServer({ bootMs: 200 });
  connection = { apiKey: lap.masterKey, baseUrl: lap.url };
});
after(() => lap.close());

const createAgent = (extra: Record<string, unknown> = {}) =>
  Agent.create({ ...connection, model: 'openai/fake-model', prompt: 'You are terse.', ...extra });

test('Agent.create sends snake_case, keeps env var keys, forwards the gateway pair and the template id', async () => {
  const agent = await createAgent({
    templateId: 'tpl_opencode_my_repo',
    harnessId: 'opencode',
    repoUrl: 'https://example.com/repo.git',
    envVars: { GITHUB_TOKEN: 'ghp_secret', myKey: 'x' },
    envVarHosts: { GITHUB_TOKEN: ['api.github.com'], myKey: [] },
    litellmApiKey: 'sk-gateway',
    litellmApiBase: 'https://gateway.example.com',
  });
  expect(agent.name).toBe('tpl_opencode_my_repo');
  expect(agent.templateId).toBe('tpl_opencode_my_repo');
  expect(agent.harnessId).toBe('opencode');
  expect(agent.repoUrl).toBe('https://example.com/repo.git');
  expect(agent.envVars).toEqual({ GITHUB_TOKEN: '<redacted>', myKey: '<redacted>' });
  expect(lap.agents.get(agent.id)?.received).toEqual({
    model: 'openai/fake-model',
    prompt: 'You are terse.',
    name: 'tpl_opencode_my_repo',
    template_id: 'tpl_opencode_my_repo',
    harness_id: 'opencode',
    repo_url: 'https://example.com/repo.git',
    env_vars: { GITHUB_TOKEN: 'ghp_secret', myKey: 'x' },
    env_var_hosts: { GITHUB_TOKEN: ['api.github.com'], myKey: [] },
    litellm_api_key: 'sk-gateway',
    litellm_api_base: 'https://gateway.example.com',
  });
  expect(JSON.parse(JSON.stringify(agent))).not.toHaveProperty('transport');
  // Without a template the id is '' (a string, as the upstream SDK types it).
  expect((await createAgent()).templateId).toBe('');
});

test('Agent.get, list, update and delete', async () => {
  const agent = await createAgent({ name: 'listed-agent' });
  expect((await Agent.get(connection, agent.id)).name).toBe('listed-agent');
  const page = await Agent.list(connection, { search: 'listed-agent' });
  expect(page.data.map((a) => a.id)).toEqual([agent.id]);
  expect(page.total).toBe(1);
  await agent.update({ prompt: 'changed' });
  expect(agent.prompt).toBe('changed');
  await Agent.delete(connection, agent.id);
  await expect(Agent.get(connection, agent.id)).rejects.toMatchObject({
    name: 'LapApiError',
    status: 404,
    detail: `agent '${agent.id}' not found`,
  });
});

test('createSession resolves once ready, reports phases, and send returns text and parts', async () => {
  const agent = await createAgent();
  const phases: string[] = [];
  const session = await agent.createSession({
    initialPrompt: 'hello',
    title: 'first',
    onProgress: (s) => phases.push(String(s.phase)),
  });
  expect(session.status).toBe('ready');
  expect(session.agentId).toBe(agent.id);
  expect(phases[0]).toBe('creating_sandbox');
  expect(phases.at(-1)).toBe('ready');
  expect(session.reply?.text).toBe('echo: hello');

  const reply = await session.send('Now show me the routes file.');
  expect(reply).toEqual({
    text: 'echo: Now show me the routes file.',
    parts: [{ type: 'text', text: 'echo: Now show me the routes file.' }],
  });
  expect((await agent.getSession(session.id)).id).toBe(session.id);
  expect((await Session.list(connection)).data.some((s) => s.id === session.id)).toBe(true);
});

test('events() speaks the upstream vocabulary: ready, harness_event for each event, done at idle, then ends', async () => {
  const slowTokens = await startFakeLapServer({ bootMs: 100, tokenMs: 80 });
  try {
    const agent = await Agent.create({ apiKey: slowTokens.masterKey, baseUrl: slowTokens.url, model: 'm' });
    const session = await agent.createSession();
    const sending = session.send('one two three four');
    await waitUntil(() => slowTokens.requests.some((r) => r.endsWith('/message')));
    const seen: SessionEvent[] = [];
    for await (const event of session.events()) seen.push(event);
    await sending;

    expect(seen[0]).toEqual({ type: 'ready' });
    expect(seen.at(-1)).toEqual({ type: 'done' });
    const harness = seen.filter((e) => e.type === 'harness_event').map((e) => e.event);
    expect(harness.at(-1)).toMatchObject({
      type: 'turn_done',
      parts: [{ type: 'text', text: 'echo: one two three four' }],
    });
    expect(harness.at(-1)).toHaveProperty('turnId');
    const text = harness.map((e) => (e.type === 'token' ? e.text : '')).join('');
    expect('echo: one two three four').toContain(text);
    expect(text.length).toBeGreaterThan(0);

    // On an idle session it is over at once: ready, done (what lets the seed example exit).
    const idle: SessionEvent[] = [];
    for await (const event of session.events()) idle.push(event);
    expect(idle).toEqual([{ type: 'ready' }, { type: 'done' }]);
  } finally {
    await slowTokens.close();
  }
});

test('watch() follows every turn with ids, resumes with Last-Event-ID after a drop, and ends when the session stops', async () => {
  const agent = await createAgent();
  const session = await agent.createSession();
  await session.send('one');
  const seen: WatchedEvent[] = [];
  const done = (async () => {
    for await (const event of session.watch()) {
      seen.push(event);
      if (seen.length === 4) {
        // Drop the connection mid-history; the SDK must resume after event 4.
        lap.dropEventStreams();
      }
    }
  })();
  await waitUntil(() => seen.filter((e) => e.type === 'turn_done').length === 1);
  await session.send('two');
  await waitUntil(() => seen.filter((e) => e.type === 'turn_done').length === 2);
  await session.stop();
  expect(session.status).toBe('dead');
  await done;

  const ids = seen.map((e) => Number(e.id));
  expect(ids).toEqual(ids.map((_, i) => i + 1)); // no gap, no repeat across the reconnect
  expect(lap.eventRequests.at(-2)).toBe(undefined);
  expect(Number(lap.eventRequests.at(-1))).toBeGreaterThanOrEqual(4);
  expect(lap.requests.filter((r) => r.includes('/events?follow=1')).length).toBeGreaterThanOrEqual(2);
  const token = seen.find((e) => e.type === 'token');
  expect(token).toMatchObject({ type: 'token', text: 'echo: ' });
  expect(token).toHaveProperty('turnId');
  const turnDone = seen.filter((e) => e.type === 'turn_done').at(-1);
  expect(turnDone).toMatchObject({ parts: [{ type: 'text', text: 'echo: two' }] });
});

test('breaking out of watch() closes the stream', async () => {
  const agent = await createAgent();
  const session = await agent.createSession();
  await session.send('x');
  for await (const event of session.watch()) {
    if (event.type === 'turn_done') break;
  }
  await session.delete();
  expect(lap.sessions.get(session.id)?.status).toBe('dead');
});

test('send right after createSession works: it waits for the sandbox and queues behind the first turn', async () => {
  const agent = await createAgent();
  const session = await agent.createSession({ initialPrompt: 'first', waitUntilReady: false });
  expect(session.status).toBe('creating');
  const [second, third] = await Promise.all([session.send('second'), session.send('third')]);
  expect(second.text).toBe('echo: second');
  expect(third.text).toBe('echo: third');
  await session.refresh();
  expect(session.status).toBe('ready');
  const turns: string[] = [];
  for await (const event of session.watch()) {
    if (event.type === 'turn_done') turns.push(String(event.parts[0]?.text));
    if (turns.length === 3) break;
  }
  expect(turns).toEqual(['echo: first', 'echo: second', 'echo: third']);
});

test('send returns the platform body as it came, plus text', async () => {
  const withInfo: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!String(input).endsWith('/message')) return response;
    const body = (await response.json()) as Record<string, unknown>;
    return Response.json({ ...body, info: { tokens: { output_tokens: 3 } } });
  };
  const agent = await Agent.create({ ...connection, fetch: withInfo, model: 'm' });
  const session = await agent.createSession();
  expect(session).not.toHaveProperty('sandboxUrl', null);
  const reply = await session.send('hi');
  expect(reply).toEqual({
    parts: [{ type: 'text', text: 'echo: hi' }],
    text: 'echo: hi',
    info: { tokens: { outputTokens: 3 } },
  });
});

test('createClaudeStream renders the harness events of GET /stream as Claude SDK messages and ends idle', async () => {
  const agent = await createAgent();
  const session = await agent.createSession();
  const stream = createClaudeStream({ ...connection, sessionId: session.id });
  await waitUntil(() => stream.state().status === 'streaming');
  const reply = await session.send('stream this');
  await stream.done();
  expect(stream.state().status).toBe('idle');
  expect(lap.requests).toContain(`GET /v1/managed_agents/sessions/${session.id}/stream`);
  const folded = foldSdkMessages(stream.state().messages);
  expect(folded.map((m) => m.type)).toEqual(['assistant', 'result']);
  expect(folded[0]).toMatchObject({
    message: { id: expect.any(String), content: [{ type: 'text', text: reply.text }] },
  });
  expect(folded[1]).toMatchObject({ subtype: 'success', result: reply.text, is_error: false });
  // The partial frames came first: text grew token by token.
  expect(stream.state().messages.filter((m) => m.type === 'stream_event').length).toBeGreaterThan(2);
});

test('createClaudeStream reports 404 and 410 as an error status, and aborts on request', async () => {
  const missing = createClaudeStream({ ...connection, sessionId: '00000000-0000-0000-0000-000000000000' });
  await missing.done();
  expect(missing.state()).toMatchObject({ status: 'error', error: expect.stringMatching(/^stream 404 /) });

  const agent = await createAgent();
  lap.failNextSession('image pull failed');
  const failed = await agent.createSession({ waitUntilReady: false });
  await waitUntil(() => lap.sessions.get(failed.id)?.status === 'failed', 5_000);
  const errors: Error[] = [];
  const gone = createClaudeStream({ ...connection, sessionId: failed.id, onError: (e) => errors.push(e) });
  await gone.done();
  expect(gone.state().status).toBe('error');
  expect(errors[0]?.message).toMatch(/^stream 410 /);

  const session = await agent.createSession();
  const controller = new AbortController();
  const aborted = createClaudeStream({ ...connection, sessionId: session.id, signal: controller.signal });
  await waitUntil(() => aborted.state().status === 'streaming');
  controller.abort();
  await aborted.done();
  expect(aborted.state().status).toBe('aborted');
});

test('a failed bring-up rejects with SessionFailedError carrying failure_reason', async () => {
  const agent = await createAgent();
  lap.failNextSession('git clone failed: repository not found');
  const error = await agent.createSession().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SessionFailedError);
  expect(error).toMatchObject({ status: 'failed', failureReason: 'git clone failed: repository not found' });
});

test('createSession honours timeoutMs and an abort signal; waitUntilReady: false returns at once', async () => {
  const slow = await startFakeLapServer({ bootMs: 5_000 });
  try {
    const agent = await Agent.create({ apiKey: slow.masterKey, baseUrl: slow.url, model: 'm' });
    const timeout = await agent.createSession({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(SessionTimeoutError);
    expect((timeout as SessionTimeoutError).sessionId).toMatch(/[0-9a-f-]{36}/);

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user cancelled')), 200);
    await expect(agent.createSession({ signal: controller.signal })).rejects.toThrow('user cancelled');

    const creating = await agent.createSession({ waitUntilReady: false });
    expect(creating.status).toBe('creating');
  } finally {
    await slow.close();
  }
});

test('typed errors: bad key (401), validation (400), unreachable server', async () => {
  const badKey = await Agent.list({ ...connection, apiKey: 'wrong' }).catch((e: unknown) => e);
  expect(badKey).toBeInstanceOf(LapApiError);
  expect(badKey).toMatchObject({
    status: 401,
    detail: 'unauthorized',
    message: 'GET /v1/managed_agents/agents → 401 unauthorized',
  });

  await expect(Agent.create({ ...connection, model: '' })).rejects.toMatchObject({
    status: 400,
    detail: 'model: required',
  });

  const port = await unusedPort();
  const unreachable = await Agent.list({ ...connection, baseUrl: `http://127.0.0.1:${port}` }).catch(
    (e: unknown) => e,
  );
  expect(unreachable).toBeInstanceOf(LapConnectionError);
  expect((unreachable as Error).message).toContain(`cannot reach the platform at http://127.0.0.1:${port}`);
  expect((unreachable as Error).message).toContain('ECONNREFUSED');

  await expect(Agent.list({ apiKey: 'k', baseUrl: 'localhost:3000' })).rejects.toThrow(
    'baseUrl must be an absolute http(s) URL',
  );
});

test('skills and memory helpers', async () => {
  const agent = await createAgent();
  const skill = await Skill.create(connection, { name: 'reviewer', content: 'Review carefully.' });
  expect(skill).toMatchObject({ name: 'reviewer', content: 'Review carefully.' });
  expect((await Skill.list(connection)).map((s) => s.id)).toContain(skill.id);
  await agent.attachSkill({ skillId: skill.id });
  expect(agent.attachedSkillIds).toEqual([skill.id]);
  await agent.detachSkill(skill.id);
  expect(agent.attachedSkillIds).toEqual([]);

  const memory = await agent.addMemory({ text: 'prefers tabs', tags: ['style'], priority: 2 });
  expect(memory).toMatchObject({ text: 'prefers tabs', tags: ['style'], priority: 2, timesApplied: 0 });
  expect((await agent.listMemories({ q: 'tabs' })).map((m) => m.id)).toEqual([memory.id]);
  expect(await agent.updateMemory(memory.id, { disabled: true })).toMatchObject({ disabled: true });
  await agent.deleteMemory(memory.id);
  expect(await agent.listMemories()).toEqual([]);
});

test('terminalConnection: the platform route with the key as a header; a tty_url elsewhere gets only the TTY token', async () => {
  const agent = await createAgent({ harnessId: 'claude-code' });
  const session = await agent.createSession();
  const terminal = session.terminalConnection();
  expect(terminal).toEqual({
    url: `${lap.url.replace(/^http/, 'ws')}/api/v1/managed_agents/sessions/${session.id}/tty`,
    headers: { authorization: `Bearer ${lap.masterKey}` },
  });
  // Any WebSocket client opens it with what the helper gives.
  const { WebSocket } = await import('ws');
  const socket = new WebSocket(terminal!.url, { headers: terminal!.headers });
  const first = await new Promise<string>((resolve, reject) => {
    socket.once('message', (data: Buffer) => resolve(data.toString()));
    socket.once('error', reject);
  });
  expect(first).toContain(`fake tty for ${session.id}`);
  socket.close();

  // A terminal on another host never gets the platform key.
  session.ttyUrl = 'https://terminals.example.com/t/1';
  expect(session.terminalConnection()).toEqual({
    url: 'wss://terminals.example.com/t/1',
    headers: { authorization: `Bearer tty-${session.id}` },
  });
  const messages = await (await createAgent({ harnessId: 'opencode' })).createSession();
  expect(messages.terminalConnection()).toBeNull();
});
