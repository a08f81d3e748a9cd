/**
 * The flows of the upstream clients, written from their documented behaviour (their
 * READMEs, examples, tests and source as read for docs/lap-reference.md section 9), each
 * against any LAP URL: run against the control-plane test double (upstream-clients-double.ts)
 * and against real local mode (e2e-local-upstream-clients.ts).
 *
 * - The upstream SDK's own flows with our `@litellm/agent-sdk`: its README/roundtrip test
 *   and `examples/lap-smoke.ts`.
 * - The CLI of the SDK repository: raw `fetch` with camelCase body keys (`templateId`,
 *   `initialPrompt`: unknown keys the API must ignore), `template_id` read back, its REPL's
 *   blocking turn and its streamed turn (POST /message, then `createClaudeStream` from the
 *   SDK package, until idle).
 * - The CLI of the upstream platform (`cli/bin/lap.mjs`): agent by name, session
 *   `{ title: 'lap-cli' }`, polling until ready, `supports_tui`, skills `{ data }`, then chat
 *   through `/sessions/:id/opencode/session/:harness_session_id/message`.
 * - `@opencode-ai/sdk` pointed at `/sessions/:id/opencode`.
 */
import { expect } from 'expect';
import { Agent, createClaudeStream, foldSdkMessages, type SessionEvent } from '@litellm/agent-sdk';

export interface Platform {
  url: string;
  key: string;
  /** A fragment every reply to `prompt` contains (the double echoes, the fake LLM quotes). */
  replyTo: (prompt: string) => string;
  /** How long a session may take to boot. */
  bootTimeoutMs: number;
}

type Json = Record<string, unknown>;

/** The upstream SDK README / roundtrip test: create, createSession, send, events, getSession. */
export async function upstreamSdkRoundtrip(platform: Platform): Promise<void> {
  const agent = await Agent.create({
    apiKey: platform.key,
    baseUrl: platform.url,
    model: 'openai/fake-model',
    templateId: 'tpl_smoke',
    name: 'upstream-roundtrip',
    prompt: 'be terse',
  });
  expect(typeof agent.id).toBe('string');
  expect(agent.model).toBe('openai/fake-model');
  expect(agent.templateId).toBe('tpl_smoke');
  expect(agent.name).toBe('upstream-roundtrip');

  const session = await agent.createSession({ initialPrompt: 'hi', timeoutMs: platform.bootTimeoutMs });
  expect(session.agentId).toBe(agent.id);
  expect(typeof session.status).toBe('string');

  const reply = await session.send('hello?');
  expect(String(reply.text)).toContain(platform.replyTo('hello?'));

  const events: SessionEvent[] = [];
  for await (const event of session.events()) events.push(event);
  expect(events.map((e) => e.type)).toEqual(['ready', 'done']);

  expect((await agent.getSession(session.id)).id).toBe(session.id);
  await session.delete();
}

/** The upstream SDK's examples/lap-smoke.ts: the four steps, send right after createSession. */
export async function upstreamLapSmoke(platform: Platform): Promise<string[]> {
  const lines: string[] = [];
  const agent = await Agent.create({
    apiKey: platform.key,
    baseUrl: platform.url,
    model: 'anthropic/claude-haiku-4-5',
    templateId: 'tpl_opencode_default',
    name: 'shin-cursor-smoke',
    prompt: 'You are a helpful agent. Reply tersely.',
  });
  lines.push(`agent.id=${agent.id} model=${agent.model}`);
  const session = await agent.createSession({
    initialPrompt: 'Reply with exactly the single word: ready',
    title: 'v0 smoke',
    timeoutMs: platform.bootTimeoutMs,
  });
  lines.push(
    `session.id=${session.id} status=${session.status} initialResponse=${JSON.stringify(session.response)?.slice(0, 200)}`,
  );
  const reply = await session.send('Reply with exactly the single word: hello');
  lines.push(`reply=${JSON.stringify(reply).slice(0, 400)}`);
  expect(agent.model).toBe('anthropic/claude-haiku-4-5');
  expect(JSON.stringify(session.response)).toContain(
    platform.replyTo('Reply with exactly the single word: ready'),
  );
  expect(JSON.stringify(reply)).toContain(platform.replyTo('Reply with exactly the single word: hello'));
  await session.delete();
  return lines;
}

/** What the SDK repository's CLI (cli/src/http.ts `lapRequest`) sends: the body as given, no key renaming. */
async function lapRequest<T = Json>(
  platform: Platform,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${platform.url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: { authorization: `Bearer ${platform.key}`, 'content-type': 'application/json' },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    throw new Error(`${method} ${path} → ${response.status} ${(await response.text()).slice(0, 200)}`);
  }
  return (response.headers.get('content-type') ?? '').includes('application/json')
    ? ((await response.json()) as T)
    : ({} as T);
}

/** The SDK repository's CLI: agents create/list/rm, run (session + REPL turns, blocking and streamed), ps, sessions rm. */
export async function sdkRepoCliFlows(platform: Platform): Promise<void> {
  // `lap agents create --model m --template tpl --name n --prompt p`: camelCase keys, sent as typed.
  const created = await lapRequest(platform, 'POST', '/v1/managed_agents/agents', {
    model: 'openai/fake-model',
    templateId: 'tpl_opencode_default',
    name: 'sdk-cli-agent',
    prompt: 'You are terse.',
  });
  expect(typeof created.id).toBe('string');
  const agentId = created.id as string;

  // `lap agents list`: { data } (or agents, or an array); the TEMPLATE column reads template_id.
  const listed = await lapRequest<{ data?: Json[]; agents?: Json[] }>(
    platform,
    'GET',
    '/v1/managed_agents/agents',
  );
  const row = (listed.agents ?? listed.data ?? []).find((a) => a.id === agentId);
  expect(row).toMatchObject({ name: 'sdk-cli-agent', model: 'openai/fake-model' });
  expect(row).toHaveProperty('template_id'); // the camelCase `templateId` is an unknown key: ignored, not refused

  // `lap run sdk-cli-agent --prompt ... --title ...`: camelCase `initialPrompt` is ignored, not a 400.
  const session = await lapRequest(platform, 'POST', `/v1/managed_agents/agents/${agentId}/session`, {
    initialPrompt: 'ignored by the API',
    title: 'sdk cli',
  });
  expect(typeof session.id).toBe('string');
  expect(typeof session.status).toBe('string');
  const sessionId = session.id as string;

  // The REPL's blocking turn: POST /message right away (the session may still be creating).
  const reply = await lapRequest(platform, 'POST', `/v1/managed_agents/sessions/${sessionId}/message`, {
    text: 'blocking turn',
  });
  expect(JSON.stringify(reply)).toContain(platform.replyTo('blocking turn'));

  // The REPL's streamed turn: fire the message, then follow the stream with the SDK until idle.
  const sending = lapRequest(platform, 'POST', `/v1/managed_agents/sessions/${sessionId}/message`, {
    text: 'streamed turn',
  });
  const stream = createClaudeStream({ baseUrl: platform.url, apiKey: platform.key, sessionId });
  const final = await new Promise<{ status: string; text: string }>((resolve) => {
    const unsubscribe = stream.subscribe((state) => {
      if (state.status !== 'idle' && state.status !== 'error' && state.status !== 'aborted') return;
      queueMicrotask(() => unsubscribe());
      const text = foldSdkMessages(state.messages)
        .flatMap((m) => (m.type === 'assistant' ? m.message.content : []))
        .map((block) => (block.type === 'text' ? String(block.text) : ''))
        .join('');
      resolve({ status: state.status, text });
    });
  });
  stream.abort();
  expect(JSON.stringify(await sending)).toContain(platform.replyTo('streamed turn'));
  expect(final.status).toBe('idle');

  // `lap ps`: the session with agent_id, status and created_at.
  const sessions = await lapRequest<{ data?: Json[]; sessions?: Json[] }>(
    platform,
    'GET',
    '/v1/managed_agents/sessions',
  );
  expect((sessions.sessions ?? sessions.data ?? []).find((s) => s.id === sessionId)).toMatchObject({
    agent_id: agentId,
    status: 'ready',
    created_at: expect.any(String),
  });
  await lapRequest(platform, 'DELETE', `/v1/managed_agents/sessions/${sessionId}`);
  await lapRequest(platform, 'DELETE', `/v1/managed_agents/agents/${agentId}`);
}

/** The upstream platform's CLI (`lap <agent-name>`) for an API harness: its chat mode through the opencode passthrough. */
export async function platformCliChat(platform: Platform, agentName: string): Promise<void> {
  const call = async (path: string, init: RequestInit = {}) =>
    fetch(`${platform.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${platform.key}`, 'content-type': 'application/json' },
    });

  const agents = (await (await call('/api/v1/managed_agents/agents')).json()) as { data: Json[] };
  const hit = agents.data.find((a) => a.name === agentName);
  expect(hit).toBeDefined();
  expect(hit!.supports_tui).toBe(false); // a boolean: the CLI trusts it over its own harness list

  const created = await call(`/api/v1/managed_agents/agents/${String(hit!.id)}/session`, {
    method: 'POST',
    body: JSON.stringify({ title: 'lap-cli' }),
  });
  expect(created.ok).toBe(true);
  const { id: sid } = (await created.json()) as { id: string };

  // Polls every 1.5 s, at most 60 times; failed/dead ends it.
  let session: Json | undefined;
  for (let i = 0; i < Math.ceil(platform.bootTimeoutMs / 1500); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const polled = await call(`/api/v1/managed_agents/sessions/${sid}`);
    expect(polled.ok).toBe(true);
    session = (await polled.json()) as Json;
    if (session.status === 'ready') break;
    expect(['creating']).toContain(session.status);
  }
  expect(session?.status).toBe('ready');
  expect(session?.supports_tui).toBe(false);

  // attachRepl: skills for the slash menu ({ data }), then the harness session id.
  const skills = (await (await call('/api/v1/skills')).json()) as { data?: unknown };
  expect(Array.isArray(skills.data)).toBe(true);
  const again = (await (await call(`/api/v1/managed_agents/sessions/${sid}`)).json()) as Json;
  expect(typeof again.harness_session_id).toBe('string');
  const ocid = again.harness_session_id as string;

  const sent = await call(`/api/v1/managed_agents/sessions/${sid}/opencode/session/${ocid}/message`, {
    method: 'POST',
    body: JSON.stringify({ parts: [{ type: 'text', text: 'chat through opencode' }] }),
  });
  expect(sent.status).toBe(200);
  const data = (await sent.json()) as { info?: { tokens?: { output?: number } }; parts?: Json[] };
  const text = (data.parts ?? [])
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n');
  expect(text).toContain(platform.replyTo('chat through opencode'));
  expect(typeof data.info?.tokens?.output).toBe('number');
  await call(`/api/v1/managed_agents/sessions/${sid}`, { method: 'DELETE' });
}

/** `@opencode-ai/sdk` against `/sessions/:id/opencode`, as the upstream platform documents it. */
export async function opencodeSdkFlow(platform: Platform, agentId: string): Promise<void> {
  const agent = await Agent.get({ apiKey: platform.key, baseUrl: platform.url }, agentId);
  const session = await agent.createSession({ timeoutMs: platform.bootTimeoutMs });
  expect(typeof session.harnessSessionId).toBe('string');
  const hsid = session.harnessSessionId!;
  // The package is ESM with an `import`-only export map: loaded with import(), not require.
  const { createOpencodeClient } = await import('@opencode-ai/sdk/client');
  // The bearer goes in `headers`: the SDK's event stream uses the global fetch, not a `fetch` override.
  const client = createOpencodeClient({
    baseUrl: `${platform.url}/api/v1/managed_agents/sessions/${session.id}/opencode`,
    headers: { authorization: `Bearer ${platform.key}` },
  });

  const listed = await client.session.list();
  expect((listed.data ?? []).map((s) => s.id)).toContain(hsid);

  // Subscribe, prompt asynchronously, read the bus until this session is idle.
  const events = await client.event.subscribe();
  await client.session.promptAsync({
    path: { id: hsid },
    body: { parts: [{ type: 'text', text: 'through the opencode sdk' }] },
  });
  let streamed = '';
  for await (const event of events.stream) {
    if (event.type === 'message.part.updated' && event.properties.part.type === 'text') {
      streamed = event.properties.part.text;
    }
    if (event.type === 'session.idle' && event.properties.sessionID === hsid) break;
  }
  expect(streamed).toContain(platform.replyTo('through the opencode sdk'));

  // The synchronous prompt and the history.
  const prompted = await client.session.prompt({
    path: { id: hsid },
    body: { parts: [{ type: 'text', text: 'and synchronously' }] },
  });
  const replyText = (prompted.data?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
  expect(replyText).toContain(platform.replyTo('and synchronously'));
  const history = await client.session.messages({ path: { id: hsid } });
  expect((history.data ?? []).length).toBeGreaterThanOrEqual(4);
  await session.delete();
}
