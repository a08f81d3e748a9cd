/**
 * TEST DOUBLE of the LAP control plane: an in-memory HTTP server implementing the API
 * contract of docs/lap-reference.md section 2 (agents, sessions with a simulated
 * bring-up, synchronous messages, SSE events with Last-Event-ID, a /tty WebSocket,
 * skills, memory). It lets the client tests exercise error paths the real platform
 * cannot produce on demand (dropped streams, failed bring-up). The end-to-end tests
 * run against real local mode instead.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

type Json = Record<string, unknown>;

interface FakeSession extends Json {
  id: string;
  agent_id: string;
  status: string;
  phase: string;
}

interface StoredEvent {
  id: number;
  type: string;
  data: Json;
}

export interface FakeLapServer {
  url: string;
  masterKey: string;
  agents: Map<string, Json>;
  sessions: Map<string, FakeSession>;
  /** Bytes received on /tty sockets and resize messages, per session. */
  ttyInput: Map<string, string[]>;
  /** The `Last-Event-ID` header of every events request, in order. */
  eventRequests: Array<string | undefined>;
  /** The next session created fails bring-up with this reason. */
  failNextSession(reason: string): void;
  /** Ends every open SSE response without ending the session (a dropped connection). */
  dropEventStreams(): void;
  close(): Promise<void>;
}

const TUI_HARNESSES = new Set(['claude-code', 'codex']);

export async function startFakeLapServer(
  options: { masterKey?: string; bootMs?: number } = {},
): Promise<FakeLapServer> {
  const masterKey = options.masterKey ?? 'test-master-key';
  const bootMs = options.bootMs ?? 300;
  const agents = new Map<string, Json>();
  const sessions = new Map<string, FakeSession>();
  const skills = new Map<string, Json>();
  const memories = new Map<string, Json>();
  const events = new Map<string, StoredEvent[]>();
  const streams = new Map<string, Set<http.ServerResponse>>();
  const ttyInput = new Map<string, string[]>();
  const eventRequests: Array<string | undefined> = [];
  const timers = new Set<NodeJS.Timeout>();
  /** Sessions whose harness is in a turn (the initial prompt's). */
  const busy = new Set<string>();
  let nextFailure: string | undefined;
  let url = '';

  const emit = (sessionId: string, type: string, data: Json) => {
    const log = events.get(sessionId) ?? [];
    const event = { id: log.length + 1, type, data: { type, ...data } };
    log.push(event);
    events.set(sessionId, log);
    for (const res of streams.get(sessionId) ?? []) writeEvent(res, event);
  };

  const endStreams = (sessionId: string) => {
    for (const res of streams.get(sessionId) ?? []) res.end();
    streams.delete(sessionId);
  };

  const bringUp = (session: FakeSession, initialPrompt: unknown, failure: string | undefined) => {
    const phases = ['pod_pending', 'pod_running', 'injecting_files', 'waiting_harness', 'harness_ready'];
    phases.forEach((phase, index) => {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (session.status !== 'creating') return;
          session.phase = phase;
          if (index < phases.length - 1) return;
          if (failure) {
            Object.assign(session, { status: 'failed', phase: 'failed', failure_reason: failure });
            return;
          }
          Object.assign(session, { status: 'ready', phase: 'ready', sandbox_url: 'http://127.0.0.1:1' });
          if (typeof initialPrompt !== 'string') return;
          // Like the platform: the initial prompt is the first turn, delivered after ready.
          busy.add(session.id);
          const reply = setTimeout(() => {
            timers.delete(reply);
            busy.delete(session.id);
            session.response = { parts: turn(session.id, initialPrompt) };
          }, bootMs);
          timers.add(reply);
        },
        (bootMs * (index + 1)) / phases.length,
      );
      timers.add(timer);
    });
  };

  const turn = (sessionId: string, text: string): Json[] => {
    const turnId = randomUUID();
    const reply = `echo: ${text}`;
    emit(sessionId, 'turn_started', { turn_id: turnId });
    for (const word of reply.split(/(?<= )/)) emit(sessionId, 'token', { turn_id: turnId, text: word });
    const parts = [{ type: 'text', text: reply }];
    emit(sessionId, 'turn_done', { turn_id: turnId, parts });
    return parts;
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const target = new URL(req.url ?? '/', 'http://x');
    const path = target.pathname.replace(/^\/api\/v1\//, '/v1/');
    if (path === '/health') return send(res, 200, { status: 'ok' });
    if (req.headers.authorization !== `Bearer ${masterKey}`) return send(res, 401, { error: 'unauthorized' });
    const body = await readJson(req);
    const method = req.method ?? 'GET';
    let m: RegExpMatchArray | null;

    if (path === '/v1/managed_agents/agents' && method === 'POST') {
      if (typeof body.model !== 'string' || !body.model) return send(res, 400, { error: 'model: required' });
      const agent: Json = {
        id: randomUUID(),
        name: body.name ?? null,
        model: body.model,
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
        // Kept only so tests can check what the SDK sent; the real platform never echoes secrets.
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
        tty_url: agent.supports_tui ? `${url.replace(/^http/, 'ws')}/tty/${id}` : null,
        tty_token: agent.supports_tui ? `tty-${id}` : null,
        response: null,
        last_seen_at: new Date().toISOString(),
        idle_timeout_ms: 86_400_000,
        failure_reason: null,
        created_at: new Date().toISOString(),
        task_arn: `local:${id}`,
      };
      sessions.set(id, session);
      bringUp(session, body.initial_prompt, nextFailure);
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
    if ((m = path.match(/^\/v1\/managed_agents\/sessions\/([^/]+)(\/[a-z]+)?$/))) {
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
        if (session.status !== 'ready') return send(res, 404, { error: `session '${m[1]}' is not ready` });
        if (typeof body.text !== 'string') return send(res, 400, { error: 'text: required' });
        if (busy.has(session.id)) {
          return send(res, 502, { error: 'harness answered HTTP 409: a turn is still running' });
        }
        const parts = turn(session.id, body.text);
        session.response = { parts };
        return send(res, 200, { parts });
      }
      if (action === 'GET /events') {
        const lastId = req.headers['last-event-id'];
        eventRequests.push(typeof lastId === 'string' ? lastId : undefined);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('retry: 100\n\n');
        const after = Number(lastId ?? 0);
        for (const event of events.get(session.id) ?? []) if (event.id > after) writeEvent(res, event);
        if (session.status !== 'ready' && session.status !== 'creating') return void res.end();
        const set = streams.get(session.id) ?? new Set();
        set.add(res);
        streams.set(session.id, set);
        res.on('close', () => set.delete(res));
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

  const stop = (session: FakeSession): FakeSession => {
    if (session.status === 'creating' || session.status === 'ready')
      Object.assign(session, { status: 'dead', phase: 'ready' });
    endStreams(session.id);
    return session;
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => send(res, 500, { error: String(error) }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const target = new URL(req.url ?? '/', 'http://x');
    const sessionId = target.pathname.replace(/^\/tty\//, '');
    if (!sessions.has(sessionId) || target.searchParams.get('token') !== `tty-${sessionId}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
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
    eventRequests,
    failNextSession: (reason) => void (nextFailure = reason),
    dropEventStreams: () => {
      for (const set of streams.values()) for (const res of set) res.destroy();
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const id of streams.keys()) endStreams(id);
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
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
