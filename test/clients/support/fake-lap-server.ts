/**
 * TEST DOUBLE of the LAP control plane: an in-memory HTTP server implementing the API
 * contract of docs/lap-reference.md sections 2 and 9 as the upstream clients see it:
 * agents (`template_id`, unknown keys ignored), sessions with a simulated bring-up
 * (`harness_session_id`, `supports_tui`), `send` that waits for a creating session and
 * queues behind a running turn, GET /events in the upstream vocabulary (`ready`,
 * `harness_event`, `done` at idle, then close) and its continuous form (`?follow=1`, with
 * Last-Event-ID), GET /stream (waits for ready, `stream.opened`, raw harness events, ends
 * at idle), the opencode passthrough `/sessions/:id/opencode/*` emulating the few opencode
 * routes the upstream clients use, a /tty WebSocket, skills and memory. It lets the client
 * tests exercise what real local mode cannot produce on demand (dropped streams, failed
 * bring-up, scripted Claude SDK envelopes). The end-to-end tests run against local mode.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

type Json = Record<string, unknown>;

interface FakeSession extends Json {
  id: string;
  agent_id: string;
  status: string;
  phase: string;
  harness_session_id: string | null;
}

/** A harness event (sandbox protocol vocabulary, snake_case) with its position in the session's log. */
interface StoredEvent {
  id: number;
  type: string;
  data: Json;
}

/** The simulated harness of one session: its event log, its turn queue, who listens. */
interface Harness {
  log: StoredEvent[];
  bus: EventEmitter;
  /** Turns running or waiting; the session is idle when 0. */
  pending: number;
  /** The end of the last queued turn: the next one starts after it. */
  tail: Promise<unknown>;
  /** opencode's view of the conversation, for GET /opencode/session/:id/message. */
  history: Json[];
}

export interface FakeLapServer {
  url: string;
  masterKey: string;
  agents: Map<string, Json>;
  sessions: Map<string, FakeSession>;
  /** Bytes received on /tty sockets and resize messages, per session. */
  ttyInput: Map<string, string[]>;
  /** Every terminal handshake: its URL (query included) and Authorization header. */
  ttyHandshakes: Array<{ url: string; authorization: string | undefined }>;
  /** The `Last-Event-ID` header of every continuous events request, in order. */
  eventRequests: Array<string | undefined>;
  /** Every request's method and path (query included), in order. */
  requests: string[];
  /** The next session created fails bring-up with this reason. */
  failNextSession(reason: string): void;
  /** The next GET /stream sends these raw frames after `stream.opened`, then ends. */
  scriptNextStream(frames: Json[]): void;
  /** Ends every open SSE response without ending the session (a dropped connection). */
  dropEventStreams(): void;
  close(): Promise<void>;
}

const TUI_HARNESSES = new Set(['claude-code', 'codex']);
/** How long GET /stream and a send on a creating session wait for ready (the platform: 60 s / 10 min). */
const READY_WAIT_MS = 30_000;

export async function startFakeLapServer(
  options: { masterKey?: string; bootMs?: number; tokenMs?: number } = {},
): Promise<FakeLapServer> {
  const masterKey = options.masterKey ?? 'test-master-key';
  const bootMs = options.bootMs ?? 300;
  const tokenMs = options.tokenMs ?? 5;
  const agents = new Map<string, Json>();
  const sessions = new Map<string, FakeSession>();
  const skills = new Map<string, Json>();
  const memories = new Map<string, Json>();
  const harnesses = new Map<string, Harness>();
  const openStreams = new Set<http.ServerResponse>();
  const ttyInput = new Map<string, string[]>();
  const ttyHandshakes: FakeLapServer['ttyHandshakes'] = [];
  const eventRequests: Array<string | undefined> = [];
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let nextFailure: string | undefined;
  let nextStreamScript: Json[] | undefined;
  let url = '';

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  const pause = (ms: number) => new Promise<void>((resolve) => later(ms, resolve));

  const harnessOf = (sessionId: string): Harness => {
    let harness = harnesses.get(sessionId);
    if (!harness) {
      harness = { log: [], bus: new EventEmitter(), pending: 0, tail: Promise.resolve(), history: [] };
      harness.bus.setMaxListeners(0);
      harnesses.set(sessionId, harness);
    }
    return harness;
  };

  const emit = (sessionId: string, data: Json) => {
    const harness = harnessOf(sessionId);
    const event = { id: harness.log.length + 1, type: String(data.type), data };
    harness.log.push(event);
    harness.bus.emit('event', event);
  };

  /** Runs one turn after the ones already queued; resolves with the reply's parts. */
  const queueTurn = (session: FakeSession, text: string): Promise<Json[]> => {
    const harness = harnessOf(session.id);
    harness.pending += 1;
    const run = harness.tail.then(async () => {
      const turnId = randomUUID();
      const reply = `echo: ${text}`;
      harness.history.push({
        info: { id: `msg_${randomUUID()}`, role: 'user' },
        parts: [{ type: 'text', text }],
      });
      emit(session.id, { type: 'turn_started', turn_id: turnId });
      for (const word of reply.split(/(?<= )/)) {
        await pause(tokenMs);
        emit(session.id, { type: 'token', turn_id: turnId, text: word });
      }
      const parts = [{ type: 'text', text: reply }];
      emit(session.id, { type: 'turn_done', turn_id: turnId, parts });
      session.response = { parts };
      harness.history.push(opencodeMessage(session, reply));
      return parts;
    });
    harness.tail = run
      .catch(() => undefined)
      .finally(() => {
        harness.pending -= 1;
        if (harness.pending === 0) harness.bus.emit('idle');
      });
    return run;
  };

  const bringUp = (
    session: FakeSession,
    agent: Json,
    initialPrompt: unknown,
    failure: string | undefined,
  ) => {
    const phases = ['pod_pending', 'pod_running', 'injecting_files', 'waiting_harness', 'harness_ready'];
    phases.forEach((phase, index) => {
      later((bootMs * (index + 1)) / phases.length, () => {
        if (session.status !== 'creating') return;
        session.phase = phase;
        if (index < phases.length - 1) return;
        if (failure) {
          Object.assign(session, { status: 'failed', phase: 'failed', failure_reason: failure });
        } else {
          Object.assign(session, {
            status: 'ready',
            phase: 'ready',
            // opencode: the opencode session the harness drives; TUI harnesses have none.
            harness_session_id: agent.supports_tui ? null : `ses_${randomBytes(12).toString('hex')}`,
          });
          // Like the platform: the initial prompt is the first turn, delivered after ready.
          if (typeof initialPrompt === 'string') void queueTurn(session, initialPrompt);
        }
        harnessOf(session.id).bus.emit('status');
      });
    });
  };

  /** Resolves once the session is ready; rejects with its status when it failed or died first. */
  const untilReady = (session: FakeSession, timeoutMs = READY_WAIT_MS): Promise<void> =>
    new Promise((resolve, reject) => {
      const bus = harnessOf(session.id).bus;
      const timer = setTimeout(() => check(true), timeoutMs);
      timers.add(timer);
      const check = (timedOut = false) => {
        if (session.status === 'creating' && !timedOut) return;
        clearTimeout(timer);
        timers.delete(timer);
        bus.off('status', onStatus);
        if (session.status === 'ready') resolve();
        else reject(new NotReady(session));
      };
      const onStatus = () => check();
      bus.on('status', onStatus);
      check();
    });

  const openSse = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    openStreams.add(res);
    res.on('close', () => openStreams.delete(res));
    req.on('close', () => openStreams.delete(res));
  };

  /**
   * Follows a session's harness until it is idle: `onEvent` for each event, then `onIdle`.
   * Idle at once when no turn runs, unless `nextTurn` (then after the next turn); ended
   * early (`onEnd`) when the session stops; listeners go when the client leaves.
   */
  const followUntilIdle = (
    session: FakeSession,
    res: http.ServerResponse,
    nextTurn: boolean,
    handlers: { onEvent: (event: StoredEvent) => void; onIdle: () => void; onEnd: () => void },
  ) => {
    const harness = harnessOf(session.id);
    const stop = () => {
      harness.bus.off('event', handlers.onEvent);
      harness.bus.off('idle', onIdle);
      harness.bus.off('status', onStatus);
    };
    const onIdle = () => {
      stop();
      handlers.onIdle();
    };
    const onStatus = () => {
      if (session.status === 'ready') return;
      stop();
      handlers.onEnd();
    };
    res.on('close', stop);
    if (harness.pending === 0 && !nextTurn) return onIdle();
    harness.bus.on('event', handlers.onEvent);
    harness.bus.on('idle', onIdle);
    harness.bus.on('status', onStatus);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const target = new URL(req.url ?? '/', 'http://x');
    const path = target.pathname.replace(/^\/api\/v1\//, '/v1/');
    const method = req.method ?? 'GET';
    requests.push(`${method} ${target.pathname}${target.search}`);
    if (path === '/health') return send(res, 200, { status: 'ok' });
    if (req.headers.authorization !== `Bearer ${masterKey}`) return send(res, 401, { error: 'unauthorized' });
    let m: RegExpMatchArray | null;

    if ((m = path.match(/^\/v1\/managed_agents\/sessions\/([^/]+)\/opencode(\/.*)$/))) {
      return opencodePassthrough(req, res, m[1], m[2], target);
    }
    const body = await readJson(req);

    if (path === '/v1/managed_agents/agents' && method === 'POST') {
      if (typeof body.model !== 'string' || !body.model) return send(res, 400, { error: 'model: required' });
      const agent: Json = {
        id: randomUUID(),
        name: body.name ?? null,
        model: body.model,
        template_id: body.template_id ?? null,
        prompt: body.prompt ?? null,
        harness_id: body.harness_id ?? 'opencode',
        supports_tui: TUI_HARNESSES.has(String(body.harness_id)),
        repo_url: body.repo_url ?? null,
        branch: body.branch ?? 'main',
        mcp_servers: body.mcp_servers ?? [],
        env_vars: Object.fromEntries(
          Object.keys((body.env_vars as Json) ?? {}).map((k) => [k, '<redacted>']),
        ),
        attached_skill_ids: body.skill_ids ?? [],
        allow_out: body.allow_out ?? [],
        deny_out: body.deny_out ?? [],
        sandbox_files: [],
        pfp_url: null,
        created_at: new Date().toISOString(),
        // Kept only so tests can check what the client sent; the real platform never echoes secrets.
        received: body,
      };
      agents.set(agent.id as string, agent);
      return send(res, 201, agent);
    }
    if (path === '/v1/managed_agents/agents' && method === 'GET') {
      const search = target.searchParams.get('search')?.toLowerCase();
      const list = [...agents.values()]
        .filter(
          (a) =>
            !search || [a.name, a.id, a.harness_id].some((v) => String(v).toLowerCase().includes(search)),
        )
        .reverse();
      return send(res, 200, page(list, target));
    }
    if ((m = path.match(/^\/v1\/managed_agents\/agents\/([^/]+)$/))) {
      const agent = agents.get(m[1]);
      if (!agent) return send(res, 404, { error: `agent '${m[1]}' not found` });
      if (method === 'GET') return send(res, 200, agent);
      if (method === 'PATCH') return send(res, 200, Object.assign(agent, body));
      if (method === 'DELETE') {
        agents.delete(m[1]);
        for (const s of sessions.values()) if (s.agent_id === m[1]) stop(s);
        return send(res, 204);
      }
    }
    if ((m = path.match(/^\/v1\/managed_agents\/agents\/([^/]+)\/session$/)) && method === 'POST') {
      const agent = agents.get(m[1]);
      if (!agent) return send(res, 404, { error: `agent '${m[1]}' not found` });
      const id = randomUUID();
      const session: FakeSession = {
        id,
        agent_id: m[1],
        title: body.title ?? null,
        status: 'creating',
        phase: 'creating_sandbox',
        phase_detail: null,
        sandbox_url: null,
        // Like the platform: the terminal is the platform's own route; the sandbox stays private.
        tty_url: agent.supports_tui
          ? `${url.replace(/^http/, 'ws')}/api/v1/managed_agents/sessions/${id}/tty`
          : null,
        tty_token: agent.supports_tui ? `tty-${id}` : null,
        supports_tui: agent.supports_tui,
        harness_session_id: null,
        response: null,
        last_seen_at: new Date().toISOString(),
        idle_timeout_ms: 86_400_000,
        failure_reason: null,
        created_at: new Date().toISOString(),
        task_arn: null,
        // Kept only so tests can check what the client sent.
        received: body,
      };
      sessions.set(id, session);
      bringUp(session, agent, body.initial_prompt, nextFailure);
      nextFailure = undefined;
      return send(res, 201, session);
    }
    if (path === '/v1/managed_agents/sessions' && method === 'GET') {
      const list = [...sessions.values()].reverse().map((session) => {
        const agent = agents.get(session.agent_id);
        return { ...session, agent_name: agent?.name ?? null, harness_id: agent?.harness_id ?? 'opencode' };
      });
      return send(res, 200, page(list, target));
    }
    if ((m = path.match(/^\/v1\/managed_agents\/sessions\/([^/]+)(\/[a-z_]+)?$/))) {
      const session = sessions.get(m[1]);
      if (!session) return send(res, 404, { error: `session '${m[1]}' not found` });
      const action = `${method} ${m[2] ?? ''}`;
      if (action === 'GET ') return send(res, 200, session);
      if (action === 'DELETE ') {
        stop(session);
        return send(res, 204);
      }
      if (action === 'POST /stop') return send(res, 200, stop(session));
      if (action === 'POST /message') {
        if (typeof body.text !== 'string') return send(res, 400, { error: 'text: required' });
        try {
          await untilReady(session);
        } catch (error) {
          return send(res, 409, { error: (error as Error).message });
        }
        return send(res, 200, { parts: await queueTurn(session, body.text) });
      }
      if (action === 'GET /events' && target.searchParams.get('follow') === '1') {
        return continuousEvents(req, res, session);
      }
      if (action === 'GET /events' || action === 'GET /stream') {
        const raw = action === 'GET /stream';
        if (session.status === 'failed' || session.status === 'dead') {
          return send(res, 410, { error: `session ${session.id} is ${session.status}` });
        }
        try {
          await untilReady(session);
        } catch (error) {
          return send(res, error instanceof NotReady && error.timedOut ? 504 : 410, {
            error: (error as Error).message,
          });
        }
        openSse(req, res);
        const frame = (data: Json) => res.write(`data: ${JSON.stringify(data)}\n\n`);
        frame({ type: raw ? 'stream.opened' : 'ready' });
        if (raw && nextStreamScript) {
          for (const scripted of nextStreamScript) frame(scripted);
          nextStreamScript = undefined;
          return void res.end();
        }
        // /events is done at once when nothing runs; /stream (like upstream's) waits for the next turn.
        followUntilIdle(session, res, raw, {
          onEvent: (event) => frame(raw ? event.data : { type: 'harness_event', event: event.data }),
          onIdle: () => {
            if (!raw) frame({ type: 'done' });
            res.end();
          },
          onEnd: () => {
            if (!raw) frame({ type: 'error', message: `session ${session.id} is ${session.status}` });
            res.end();
          },
        });
        return;
      }
    }
    if (path === '/v1/skills' && method === 'POST') {
      const skill = {
        id: randomUUID(),
        name: body.name,
        description: body.description ?? null,
        content: body.content,
        created_at: new Date().toISOString(),
      };
      skills.set(skill.id, skill);
      return send(res, 201, skill);
    }
    if (path === '/v1/skills' && method === 'GET')
      return send(res, 200, page([...skills.values()].reverse(), target));
    if ((m = path.match(/^\/v1\/managed_agents\/agents\/([^/]+)\/skill$/))) {
      const agent = agents.get(m[1]);
      if (!agent) return send(res, 404, { error: `agent '${m[1]}' not found` });
      const ids = agent.attached_skill_ids as string[];
      if (method === 'POST') {
        const skill = skills.get(String(body.skill_id));
        if (!skill) return send(res, 404, { error: `skill '${String(body.skill_id)}' not found` });
        ids.push(skill.id as string);
        return send(res, 200, { agent });
      }
      const skillId = target.searchParams.get('skill_id');
      agent.attached_skill_ids = skillId ? ids.filter((id) => id !== skillId) : [];
      return send(res, 200, { agent });
    }
    if ((m = path.match(/^\/v1\/managed_agents\/agents\/([^/]+)\/memory(?:\/([^/]+))?$/))) {
      if (method === 'POST') {
        const memory = {
          id: randomUUID(),
          agent_id: m[1],
          text: body.text,
          tags: body.tags ?? [],
          priority: body.priority ?? 0,
          source: body.source ?? 'ui',
          disabled: false,
          times_applied: 0,
          created_at: new Date().toISOString(),
        };
        memories.set(memory.id, memory);
        return send(res, 201, memory);
      }
      if (method === 'GET') {
        const q = target.searchParams.get('q') ?? '';
        return send(res, 200, {
          data: [...memories.values()].filter((x) => x.agent_id === m![1] && String(x.text).includes(q)),
        });
      }
      const memory = memories.get(m[2] ?? '');
      if (!memory) return send(res, 404, { error: `memory '${m[2]}' not found` });
      if (method === 'PATCH') return send(res, 200, Object.assign(memory, body));
      if (method === 'DELETE') {
        memories.delete(memory.id as string);
        return send(res, 204);
      }
    }
    return send(res, 404, { error: `no route ${method} ${target.pathname}` });
  };

  /** GET /events?follow=1: every harness event (`id`, `event`, `data`) after Last-Event-ID, until the session ends. */
  const continuousEvents = (req: http.IncomingMessage, res: http.ServerResponse, session: FakeSession) => {
    const lastId = req.headers['last-event-id'];
    eventRequests.push(typeof lastId === 'string' ? lastId : undefined);
    openSse(req, res);
    res.write('retry: 100\n\n');
    const harness = harnessOf(session.id);
    const after = Number(lastId ?? 0);
    for (const event of harness.log) if (event.id > after) writeEvent(res, event);
    if (session.status !== 'ready' && session.status !== 'creating') return void res.end();
    const onEvent = (event: StoredEvent) => writeEvent(res, event);
    const onStatus = () => {
      if (session.status === 'ready' || session.status === 'creating') return;
      cleanup();
      res.end();
    };
    const cleanup = () => {
      harness.bus.off('event', onEvent);
      harness.bus.off('status', onStatus);
    };
    harness.bus.on('event', onEvent);
    harness.bus.on('status', onStatus);
    res.on('close', cleanup);
  };

  /**
   * ALL /sessions/:id/opencode/*: stands in for the sandbox's opencode server behind the
   * platform, for the routes the upstream clients use (the real passthrough reaches a real
   * opencode in the end-to-end tests).
   */
  const opencodePassthrough = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    sessionId: string,
    rest: string,
    target: URL,
  ): Promise<void> => {
    const session = sessions.get(sessionId);
    if (!session) return send(res, 404, { error: `session '${sessionId}' not found` });
    const agent = agents.get(session.agent_id);
    if (agent?.harness_id !== 'opencode') {
      return send(res, 404, {
        error: `session ${sessionId} has no opencode server (harness ${String(agent?.harness_id)})`,
      });
    }
    if (session.status !== 'ready' || !session.harness_session_id) {
      return send(res, 409, { error: `session ${sessionId} is ${session.status}` });
    }
    const ocid = session.harness_session_id;
    const method = req.method ?? 'GET';
    const harness = harnessOf(session.id);
    const body = method === 'GET' ? {} : await readJson(req);
    const prompt = () => {
      const parts = Array.isArray(body.parts) ? (body.parts as Json[]) : [];
      return parts.map((p) => String(p.text ?? '')).join('');
    };
    const info = {
      id: ocid,
      projectID: 'global',
      directory: '/work/repo',
      title: 'lap',
      version: '1.18.33',
      time: { created: 0, updated: 0 },
    };
    let m: RegExpMatchArray | null;
    if (rest === '/session' && method === 'GET') return send(res, 200, [info]);
    if ((m = rest.match(/^\/session\/([^/]+)(\/[a-z_]+)?$/))) {
      if (m[1] !== ocid)
        return send(res, 404, { name: 'NotFoundError', data: { message: `Session not found: ${m[1]}` } });
      const action = `${method} ${m[2] ?? ''}`;
      if (action === 'GET ') return send(res, 200, info);
      if (action === 'GET /message') return send(res, 200, harness.history);
      if (action === 'POST /message') {
        await queueTurn(session, prompt());
        return send(res, 200, harness.history.at(-1));
      }
      if (action === 'POST /prompt_async') {
        void queueTurn(session, prompt());
        return send(res, 204);
      }
    }
    if (rest === '/event' && method === 'GET') {
      openSse(req, res);
      const frame = (data: Json) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      frame({ type: 'server.connected', properties: {} });
      let text = '';
      const onEvent = (event: StoredEvent) => {
        const data = event.data;
        if (data.type === 'turn_started') {
          text = '';
          frame({ type: 'session.status', properties: { sessionID: ocid, status: { type: 'busy' } } });
        } else if (data.type === 'token') {
          text += String(data.text);
          frame({
            type: 'message.part.updated',
            properties: {
              part: {
                id: `prt_${String(data.turn_id)}`,
                sessionID: ocid,
                messageID: `msg_${String(data.turn_id)}`,
                type: 'text',
                text,
              },
              delta: data.text,
            },
          });
        }
      };
      const onIdle = () => frame({ type: 'session.idle', properties: { sessionID: ocid } });
      harness.bus.on('event', onEvent);
      harness.bus.on('idle', onIdle);
      res.on('close', () => {
        harness.bus.off('event', onEvent);
        harness.bus.off('idle', onIdle);
      });
      return;
    }
    return send(res, 404, { error: `opencode has no route ${method} ${rest}${target.search}` });
  };

  const stop = (session: FakeSession): FakeSession => {
    if (session.status === 'creating' || session.status === 'ready')
      Object.assign(session, { status: 'dead', phase: 'ready' });
    harnessOf(session.id).bus.emit('status');
    return session;
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => send(res, 500, { error: String(error) }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const target = new URL(req.url ?? '/', 'http://x');
    const sessionId =
      target.pathname.match(/^\/(?:api\/)?v1\/managed_agents\/sessions\/([^/]+)\/tty$/)?.[1] ?? '';
    ttyHandshakes.push({ url: req.url ?? '', authorization: req.headers.authorization });
    // As the platform: the master key as a header, or the session's tty_token as a header or ?token=.
    const presented = [req.headers.authorization, `Bearer ${target.searchParams.get('token')}`];
    const allowed = [`Bearer ${masterKey}`, `Bearer tty-${sessionId}`];
    if (!sessions.has(sessionId) || !presented.some((p) => allowed.includes(p ?? ''))) {
      const body = JSON.stringify({ error: 'invalid bearer token or tty_token' });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const received = ttyInput.get(sessionId) ?? [];
      ttyInput.set(sessionId, received);
      ws.send(`fake tty for ${sessionId}\r\n`);
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        received.push(text);
        if (!isBinary && text.startsWith('{')) return; // control message (resize)
        ws.send(`tty got: ${JSON.stringify(text)}\r\n`);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    masterKey,
    agents,
    sessions,
    ttyInput,
    ttyHandshakes,
    eventRequests,
    requests,
    failNextSession: (reason) => void (nextFailure = reason),
    scriptNextStream: (frames) => void (nextStreamScript = frames),
    dropEventStreams: () => {
      for (const res of openStreams) res.destroy();
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const res of openStreams) res.end();
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

class NotReady extends Error {
  readonly timedOut: boolean;
  constructor(session: FakeSession) {
    const timedOut = session.status === 'creating';
    super(
      timedOut
        ? `session ${session.id} not ready in time`
        : `session ${session.id} is ${session.status}${session.failure_reason ? `: ${String(session.failure_reason)}` : ''}`,
    );
    this.timedOut = timedOut;
  }
}

/** An opencode assistant message (`{ info, parts }`, opencode's shape) holding one text part. */
function opencodeMessage(session: FakeSession, text: string): Json {
  const sessionID = session.harness_session_id;
  const id = `msg_${randomUUID()}`;
  const now = Date.now();
  return {
    info: {
      id,
      sessionID,
      role: 'assistant',
      time: { created: now, completed: now },
      parentID: '',
      modelID: 'fake-model',
      providerID: 'litellm',
      mode: 'build',
      path: { cwd: '/work/repo', root: '/work/repo' },
      cost: 0,
      tokens: { input: 1, output: text.split(' ').length, reasoning: 0, cache: { read: 0, write: 0 } },
    },
    parts: [{ id: `prt_${randomUUID()}`, sessionID, messageID: id, type: 'text', text }],
  };
}

function writeEvent(res: http.ServerResponse, event: StoredEvent): void {
  res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
}

function page(list: Json[], target: URL): Json {
  const limit = Math.min(Number(target.searchParams.get('limit') ?? 50), 200);
  const offset = Number(target.searchParams.get('offset') ?? 0);
  return { data: list.slice(offset, offset + limit), total: list.length, limit, offset };
}

function send(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) return void res.writeHead(status).end();
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: http.IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Json) : {};
}
