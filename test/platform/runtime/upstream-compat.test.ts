/**
 * Wire compatibility with the upstream platform (lap-reference section 9; its routes in
 * src/app/api/v1/managed_agents/**), written from its documented behaviour: the SSE
 * routes (/events, /stream, /message_stream), the opencode passthrough, the session and
 * agent fields its clients read, unknown keys, skill blocks in the prompt and disabled
 * memories. Against the real runtime with the contract-7 harness double; the
 * passthrough reaches a real `opencode serve` and is driven by `@opencode-ai/sdk`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opencodeConfig } from '../../../sandbox/harness/src/adapters/opencode';
import { freeLoopbackPort } from '../../../platform/src/sandbox/local/free-port';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import {
  BASE,
  MASTER_KEY,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

const ROOT = path.resolve(__dirname, '../../..');

interface Sse {
  status: number;
  contentType: string | null;
  events: Array<Record<string, unknown>>;
  /** The stream ended on its own (the server closed it). */
  closed: boolean;
}

/** Reads an SSE answer until the server closes it or `ms` passes; each `data:` line parsed. */
async function readSse(res: Response, ms = 15_000): Promise<Sse> {
  const out: Sse = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events: [],
    closed: false,
  };
  if (!res.body) return out;
  const reader = res.body.getReader();
  let text = '';
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, until - Date.now()))),
    ]);
    if (!chunk) break;
    if (chunk.done) {
      out.closed = true;
      break;
    }
    text += Buffer.from(chunk.value).toString('utf8');
  }
  if (!out.closed) await reader.cancel();
  out.events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
  return out;
}

describe('upstream wire compatibility', () => {
  let fx: RuntimeFixture;
  let gateway: FakeLlmGateway;
  let opencode: ChildProcess;
  let opencodeLog = '';
  let workdir: string | undefined;
  let agentId: string;
  const get = (route: string, headers: Record<string, string> = {}) =>
    fetch(`${fx.baseUrl}${route}`, { headers: { authorization: `Bearer ${MASTER_KEY}`, ...headers } });
  const post = (route: string, body: unknown) =>
    fetch(`${fx.baseUrl}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    gateway = await startFakeLlmGateway();
    // A real opencode server for the harness double's /opencode/* (contract 7) to forward to.
    const opencodePort = await freeLoopbackPort();
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-opencode-'));
    opencode = spawn(
      path.join(ROOT, 'node_modules/.bin/opencode'),
      ['serve', '--print-logs', '--port', String(opencodePort), '--hostname', '127.0.0.1'],
      {
        cwd: workdir,
        env: {
          PATH: process.env.PATH!,
          HOME: workdir,
          LITELLM_API_KEY: 'sk-opencode-test',
          OPENCODE_CONFIG_CONTENT: JSON.stringify(opencodeConfig('test-model', `${gateway.url}/v1`)),
          OPENCODE_DISABLE_AUTOUPDATE: 'true',
          OPENCODE_DISABLE_MODELS_FETCH: 'true',
          OPENCODE_DISABLE_SHARE: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    for (const stream of [opencode.stdout!, opencode.stderr!])
      stream.on('data', (chunk: Buffer) => (opencodeLog = (opencodeLog + chunk.toString()).slice(-4000)));
    fx = await startRuntimeFixture({ sandboxEnv: { FAKE_OPENCODE_URL: `http://127.0.0.1:${opencodePort}` } });
    agentId = (await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', name: 'compat' })).body
      .id;
    const until = Date.now() + 60_000;
    for (;;) {
      // Bounded: a request accepted while opencode still boots may never be answered.
      const up = await fetch(`http://127.0.0.1:${opencodePort}/session`, {
        signal: AbortSignal.timeout(3000),
      }).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > until) throw new Error(`opencode serve did not start:\n${opencodeLog}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 120_000);
  afterAll(async () => {
    await fx?.close();
    if (opencode?.pid) process.kill(-opencode.pid, 'SIGKILL');
    await gateway?.close();
    if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
  });

  async function readySession(body: unknown = {}): Promise<string> {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, body);
    await waitForStatus(fx, created.body.id, ['ready']);
    return created.body.id;
  }

  describe('GET /sessions/{id}/events', () => {
    it('ready, harness_event for the running turn (from its start), done when idle, then closed', async () => {
      const id = await readySession();
      const turn = post(`${BASE}/sessions/${id}/message`, { text: 'slow 1500' });
      await new Promise((r) => setTimeout(r, 300));
      const sse = await readSse(await get(`${BASE}/sessions/${id}/events`));
      expect((await turn).status).toBe(200);
      expect(sse.status).toBe(200);
      expect(sse.contentType).toBe('text/event-stream; charset=utf-8');
      expect(sse.closed).toBe(true);
      expect(sse.events[0]).toEqual({ type: 'ready' });
      expect(sse.events.at(-1)).toEqual({ type: 'done' });
      const harness = sse.events.slice(1, -1);
      expect(harness.every((e) => e.type === 'harness_event')).toBe(true);
      expect(harness.map((e) => (e.event as { type: string }).type)).toEqual([
        'turn_started',
        'token',
        'turn_done',
      ]);
    });

    it('an idle session: ready, then done, then closed', async () => {
      const id = await readySession();
      const sse = await readSse(await get(`${BASE}/sessions/${id}/events`), 5000);
      expect(sse).toMatchObject({ status: 200, closed: true, events: [{ type: 'ready' }, { type: 'done' }] });
    });

    it('follows the initial prompt of a new session to its end', async () => {
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
        initial_prompt: 'slow 1000',
      });
      await waitForStatus(fx, created.body.id, ['ready']);
      const sse = await readSse(await get(`${BASE}/sessions/${created.body.id}/events`));
      expect(sse.closed).toBe(true);
      expect(sse.events.at(-1)).toEqual({ type: 'done' });
      expect(
        sse.events.map((e) => (e.event as { type?: string } | undefined)?.type).filter(Boolean),
      ).toContain('turn_done');
    });

    it('404 for an unknown session, 409 for one not ready', async () => {
      expect((await get(`${BASE}/sessions/00000000-0000-4000-8000-000000000000/events`)).status).toBe(404);
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
      const early = await get(`${BASE}/sessions/${created.body.id}/events`);
      expect(early.status).toBe(409);
      expect(await early.json()).toEqual({ error: 'session not ready, status=creating' });
      await waitForStatus(fx, created.body.id, ['ready']);
    });
  });

  describe('GET /sessions/{id}/stream', () => {
    it('right after create: waits for ready, stream.opened first, the harness events verbatim, ends at idle', async () => {
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
        initial_prompt: 'slow 500',
      });
      expect(created.body.status).toBe('creating');
      const sse = await readSse(await get(`${BASE}/sessions/${created.body.id}/stream`), 30_000);
      expect(sse.status).toBe(200);
      expect(sse.closed).toBe(true);
      expect(sse.events[0]).toEqual({ type: 'stream.opened' });
      expect(sse.events.slice(1).map((e) => e.type)).toEqual(['turn_started', 'token', 'turn_done']);
      expect(sse.events.at(-1)).toMatchObject({
        type: 'turn_done',
        parts: [{ type: 'text', text: 'echo: slow 500' }],
      });
    });

    it('opened on an idle session: stays open for the next turn, ends at its end', async () => {
      const id = await readySession();
      const res = await get(`${BASE}/sessions/${id}/stream`);
      const reading = readSse(res, 30_000);
      // Opened first; the turn starts after the stream is already idle-at-open.
      await new Promise((r) => setTimeout(r, 500));
      const sent = await fx.api('POST', `${BASE}/sessions/${id}/message`, { text: 'after open' });
      expect(sent.status).toBe(200);
      const sse = await reading;
      expect(sse.closed).toBe(true);
      expect(sse.events[0]).toEqual({ type: 'stream.opened' });
      expect(sse.events.at(-1)).toMatchObject({
        type: 'turn_done',
        parts: [{ type: 'text', text: 'echo: after open' }],
      });
    });

    it('404 unknown, 410 for a dead session', async () => {
      expect((await get(`${BASE}/sessions/00000000-0000-4000-8000-000000000000/stream`)).status).toBe(404);
      const id = await readySession();
      await fx.api('POST', `${BASE}/sessions/${id}/stop`);
      const gone = await get(`${BASE}/sessions/${id}/stream`);
      expect(gone.status).toBe(410);
      expect(((await gone.json()) as { error: string }).error).toMatch(/is dead/);
    });
  });

  describe('POST /sessions/{id}/message_stream', () => {
    it('ready, the turn as harness_event, done, then closed; the reply is stored', async () => {
      const id = await readySession();
      const sse = await readSse(await post(`${BASE}/sessions/${id}/message_stream`, { text: 'streamed' }));
      expect(sse.status).toBe(200);
      expect(sse.closed).toBe(true);
      expect(sse.events[0]).toEqual({ type: 'ready' });
      expect(sse.events.at(-1)).toEqual({ type: 'done' });
      expect(sse.events.slice(1, -1).map((e) => (e.event as { type: string }).type)).toEqual([
        'turn_started',
        'token',
        'turn_done',
      ]);
      const session = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${id}`);
      expect(session.body.response).toEqual({ parts: [{ type: 'text', text: 'echo: streamed' }] });
    });

    it('a failed turn ends with an error event', async () => {
      const id = await readySession();
      const sse = await readSse(await post(`${BASE}/sessions/${id}/message_stream`, { text: 'fail' }));
      expect(sse.events[0]).toEqual({ type: 'ready' });
      expect(sse.events.at(-1)).toMatchObject({ type: 'error', message: expect.stringMatching(/HTTP 500/) });
      expect(sse.closed).toBe(true);
    });
  });

  describe('ALL /sessions/{id}/opencode/*', () => {
    it("@opencode-ai/sdk drives the session's opencode server through the platform", async () => {
      const id = await readySession();
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(__dirname, 'support/opencode-sdk-client.mts'),
            `${fx.baseUrl}${BASE}/sessions/${id}/opencode`,
            MASTER_KEY,
          ],
          { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 90_000 },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
        ),
      );
      const seen = JSON.parse(output.trim().split('\n').at(-1)!) as {
        text: string;
        firstEvent: string;
        roles: string[];
        listed: boolean;
      };
      // POST with a JSON body (create, prompt), GET (list, messages), and the SSE event stream, all through LAP.
      expect(seen.text).toContain('fake-llm: hello opencode');
      expect(seen.firstEvent).toBe('server.connected');
      expect(seen.roles).toEqual(['user', 'assistant']);
      expect(seen.listed).toBe(true);
    }, 120_000);

    it('the client needs the master key; other harnesses have no /opencode', async () => {
      const id = await readySession();
      const anonymous = await fetch(`${fx.baseUrl}${BASE}/sessions/${id}/opencode/session`);
      expect(anonymous.status).toBe(401);
      const tui = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
        model: 'm',
        harness_id: 'claude-code',
      });
      const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${tui.body.id}/session`, {});
      await waitForStatus(fx, created.body.id, ['ready']);
      const other = await get(`${BASE}/sessions/${created.body.id}/opencode/session`);
      expect(other.status).toBe(404);
      expect(((await other.json()) as { error: string }).error).toMatch(/only for opencode sessions/);
    });
  });

  describe('fields and bodies', () => {
    it('sessions carry harness_session_id (from the harness) and supports_tui', async () => {
      const id = await readySession();
      const session = await fx.api<{ harness_session_id: string | null; supports_tui: boolean }>(
        'GET',
        `${BASE}/sessions/${id}`,
      );
      expect(session.body.harness_session_id).toBe(`fake-session-${id}`);
      expect(session.body.supports_tui).toBe(false);
      const tui = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', harness_id: 'codex' });
      const created = await fx.api<{ supports_tui: boolean; harness_session_id: null }>(
        'POST',
        `${BASE}/agents/${tui.body.id}/session`,
        {},
      );
      expect(created.body).toMatchObject({ supports_tui: true, harness_session_id: null });
    });

    it('agents keep template_id (free text)', async () => {
      const created = await fx.api<{ id: string; template_id: string | null }>('POST', `${BASE}/agents`, {
        model: 'm',
        template_id: 'tpl_opencode_my_repo',
      });
      expect(created.body.template_id).toBe('tpl_opencode_my_repo');
      const read = await fx.api<{ template_id: string | null }>('GET', `${BASE}/agents/${created.body.id}`);
      expect(read.body.template_id).toBe('tpl_opencode_my_repo');
      const plain = await fx.api<{ template_id: string | null }>('POST', `${BASE}/agents`, { model: 'm' });
      expect(plain.body.template_id).toBeNull();
    });

    it('unknown body keys are ignored on every public route; the rules of known keys stay', async () => {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
        model: 'm',
        tools: [],
        projects: [],
        preload_memory_limit: 5,
      });
      expect(agent.status).toBe(201);
      expect(
        (
          await fx.api('PATCH', `${BASE}/agents/${agent.body.id}`, {
            name: 'n',
            env_var_hosts: {},
            unknown: 1,
          })
        ).status,
      ).toBe(200);
      const session = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {
        initialPrompt: 'the SDK-repo CLI sends this',
        skill_ids: [],
      });
      expect(session.status).toBe(201);
      const reply = await fx.api<{ parts: unknown[] }>(
        'POST',
        `${BASE}/sessions/${session.body.id}/message`,
        {
          text: 'hi',
          attachments: [],
        },
      );
      expect(reply.status).toBe(200);
      expect(
        (
          await fx.api('POST', `${BASE}/agents/${agent.body.id}/memory`, {
            text: 'm',
            pinned: true,
            source_user_id: 'u',
          })
        ).status,
      ).toBe(201);
      expect(
        (await fx.api('POST', '/api/v1/skills', { name: 's', content: 'c', created_by: 'x' })).status,
      ).toBe(201);
      expect(
        (await fx.api('POST', `${BASE}/agents/${agent.body.id}/skill`, { content: 'inline', extra: true }))
          .status,
      ).toBe(200);
      // Strictness where it protects: reserved env keys and wrong types are still refused.
      const reserved = await fx.api<{ error: string }>('POST', `${BASE}/agents/${agent.body.id}/session`, {
        env_vars: { LITELLM_API_KEY: 'x' },
      });
      expect(reserved.status).toBe(400);
      expect(reserved.body.error).toMatch(/env_vars\.LITELLM_API_KEY: reserved key/);
      expect((await fx.api('POST', `${BASE}/agents`, { model: 42 })).status).toBe(400);
    });

    it("attached skills show as <!-- skill:<id> --> blocks in the agent's prompt, in attach order; detach removes them", async () => {
      const agent = await fx.api<{ id: string; prompt: string }>('POST', `${BASE}/agents`, {
        model: 'm',
        prompt: 'You review code.',
      });
      const a = await fx.api<{ id: string }>('POST', '/api/v1/skills', { name: 'A', content: 'Skill A.' });
      const b = await fx.api<{ id: string }>('POST', '/api/v1/skills', { name: 'B', content: 'Skill B.\n' });
      await fx.api('POST', `${BASE}/agents/${agent.body.id}/skill`, { skill_id: a.body.id });
      const both = await fx.api<{ agent: { prompt: string; attached_skill_ids: string[] } }>(
        'POST',
        `${BASE}/agents/${agent.body.id}/skill`,
        { skill_id: b.body.id },
      );
      expect(both.body.agent.prompt).toBe(
        `You review code.\n\n<!-- skill:${a.body.id} -->\nSkill A.\n\n<!-- skill:${b.body.id} -->\nSkill B.`,
      );
      expect(both.body.agent.attached_skill_ids).toEqual([a.body.id, b.body.id]);
      // Written back as read, the prompt does not grow.
      const patched = await fx.api<{ prompt: string }>('PATCH', `${BASE}/agents/${agent.body.id}`, {
        prompt: both.body.agent.prompt,
      });
      expect(patched.body.prompt).toBe(both.body.agent.prompt);
      const one = await fx.api<{ agent: { prompt: string } }>(
        'DELETE',
        `${BASE}/agents/${agent.body.id}/skill?skill_id=${a.body.id}`,
      );
      expect(one.body.agent.prompt).toBe(`You review code.\n\n<!-- skill:${b.body.id} -->\nSkill B.`);
      const none = await fx.api<{ agent: { prompt: string } }>(
        'DELETE',
        `${BASE}/agents/${agent.body.id}/skill`,
      );
      expect(none.body.agent.prompt).toBe('You review code.');
    });

    it('a disabled memory is out of search and out of the prompt', async () => {
      const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', prompt: 'P.' });
      const keep = await fx.api<{ id: string }>('POST', `${BASE}/agents/${agent.body.id}/memory`, {
        text: 'tabs not spaces',
      });
      const off = await fx.api<{ id: string }>('POST', `${BASE}/agents/${agent.body.id}/memory`, {
        text: 'the old build script',
      });
      await fx.api('PATCH', `${BASE}/agents/${agent.body.id}/memory/${off.body.id}`, { disabled: true });
      const search = await fx.api<{ data: Array<{ id: string }> }>(
        'GET',
        `${BASE}/agents/${agent.body.id}/memory`,
      );
      expect(search.body.data.map((m) => m.id)).toEqual([keep.body.id]);
      const all = await fx.api<{ data: Array<{ id: string }> }>(
        'GET',
        `${BASE}/agents/${agent.body.id}/memory?include_disabled=true`,
      );
      expect(all.body.data.map((m) => m.id).sort()).toEqual([keep.body.id, off.body.id].sort());
      const session = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
      await waitForStatus(fx, session.body.id, ['ready']);
      const prompt = fs.readFileSync(
        path.join(fx.dataDir, 'sandboxes', session.body.id, 'home/prompt.txt'),
        'utf8',
      );
      expect(prompt).toContain('tabs not spaces');
      expect(prompt).not.toContain('the old build script');
    });
  });
});
