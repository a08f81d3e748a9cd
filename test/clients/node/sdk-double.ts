/**
 * node:test file, run by ../sdk.test.ts (the SDK is ESM; Jest here is CommonJS).
 * The SDK against the control-plane TEST DOUBLE (support/fake-lap-server.ts), for the
 * paths the real platform cannot produce on demand: dropped event streams, failed
 * bring-up, timeouts. The end-to-end run against real local mode is in e2e-local.test.ts.
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
  type SessionEvent,
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

test('Agent.create sends snake_case, keeps env var keys, forwards the gateway pair and maps templateId', async () => {
  const agent = await createAgent({
    templateId: 'tpl_opencode_my_repo',
    harnessId: 'opencode',
    repoUrl: 'https://example.com/repo.git',
    envVars: { GITHUB_TOKEN: 'ghp_secret', myKey: 'x' },
    litellmApiKey: 'sk-gateway',
    litellmApiBase: 'https://gateway.example.com',
  });
  expect(agent.name).toBe('tpl_opencode_my_repo');
  expect(agent.harnessId).toBe('opencode');
  expect(agent.repoUrl).toBe('https://example.com/repo.git');
  expect(agent.envVars).toEqual({ GITHUB_TOKEN: '<redacted>', myKey: '<redacted>' });
  expect(lap.agents.get(agent.id)?.received).toEqual({
    model: 'openai/fake-model',
    prompt: 'You are terse.',
    name: 'tpl_opencode_my_repo',
    harness_id: 'opencode',
    repo_url: 'https://example.com/repo.git',
    env_vars: { GITHUB_TOKEN: 'ghp_secret', myKey: 'x' },
    litellm_api_key: 'sk-gateway',
    litellm_api_base: 'https://gateway.example.com',
  });
  expect(JSON.parse(JSON.stringify(agent))).not.toHaveProperty('transport');
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
    message: `agent '${agent.id}' not found`,
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

test('events() yields camelCased events, resumes with Last-Event-ID after a drop, and ends when the session stops', async () => {
  const agent = await createAgent();
  const session = await agent.createSession();
  await session.send('one');
  const seen: SessionEvent[] = [];
  const done = (async () => {
    for await (const event of session.events()) {
      seen.push(event);
      if (seen.length === 4) {
        // Drop the connection mid-turn-history; the SDK must resume after event 4.
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
  const token = seen.find((e) => e.type === 'token');
  expect(token).toMatchObject({ type: 'token', text: 'echo: ' });
  expect(token).toHaveProperty('turnId');
  const turnDone = seen.filter((e) => e.type === 'turn_done').at(-1);
  expect(turnDone).toMatchObject({ parts: [{ type: 'text', text: 'echo: two' }] });
});

test('breaking out of events() closes the stream', async () => {
  const agent = await createAgent();
  const session = await agent.createSession();
  await session.send('x');
  for await (const event of session.events()) {
    if (event.type === 'turn_done') break;
  }
  await session.delete();
  expect(lap.sessions.get(session.id)?.status).toBe('dead');
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
  expect(badKey).toMatchObject({ status: 401, message: 'unauthorized' });

  await expect(Agent.create({ ...connection, model: '' })).rejects.toMatchObject({
    status: 400,
    message: 'model: required',
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
