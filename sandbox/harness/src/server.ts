/**
 * The harness HTTP server (the protocol in docs/sandbox-protocol.md):
 *   GET /health (no auth), POST /turn, GET /events (SSE), POST /abort, GET /tty (WebSocket),
 *   ALL /opencode/* (opencode's own API, opencode harness only).
 * Every route but /health needs the HARNESS_TOKEN as a bearer token (/tty also takes ?token=).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HarnessHealth, HarnessId, TurnResponse } from '@lap/sandbox-protocol';
import { HARNESS_OPENCODE_PREFIX, TUI_HARNESS_IDS, turnRequestSchema } from '@lap/sandbox-protocol';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { AgentBusyError, AgentUnavailableError, type HarnessAdapter } from './adapters/adapter';
import { bearerToken, tokenMatches } from './bearer-token';
import { EventHub } from './event-hub';
import { forwardToOpencode } from './passthrough';

const MAX_TURN_BYTES = 5 * 1024 * 1024;
const SSE_KEEPALIVE_MS = 15_000;

export interface HarnessServerOptions {
  harnessId: HarnessId;
  token: string;
  adapter: HarnessAdapter;
  logger: Logger;
}

export interface HarnessServer {
  server: http.Server;
  events: EventHub;
  /** Marks the adapter started: /health answers as the adapter's health says from now on. */
  setReady(): void;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export function createHarnessServer(options: HarnessServerOptions): HarnessServer {
  const { adapter, logger } = options;
  const events = new EventHub();
  const sockets = new Set<Socket>();
  let ready = false;
  let inFlight: { turnId: string; controller: AbortController } | null = null;
  const supportsTui = TUI_HARNESS_IDS.includes(options.harnessId);

  const authorized = (req: http.IncomingMessage, allowQuery = false): boolean => {
    const presented =
      bearerToken(req.headers.authorization) ??
      (allowQuery
        ? (new URL(req.url ?? '/', 'http://harness').searchParams.get('token') ?? undefined)
        : undefined);
    return tokenMatches(presented, options.token);
  };

  const readJson = (req: http.IncomingMessage): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_TURN_BYTES) {
          reject(Object.assign(new Error(`body exceeds ${MAX_TURN_BYTES} bytes`), { status: 413 }));
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(Object.assign(new Error('body is not valid JSON'), { status: 400 }));
        }
      });
      req.on('error', reject);
    });

  const handleTurn = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (adapter.kind !== 'api') {
      return sendJson(res, 409, { error: `${options.harnessId} is a TUI harness: connect to GET /tty` });
    }
    if (!ready) return sendJson(res, 503, { error: 'the harness is still starting' });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (error) {
      return sendJson(res, (error as { status?: number }).status ?? 400, { error: (error as Error).message });
    }
    const parsed = turnRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return sendJson(res, 400, { error: `${issue.path.join('.') || 'body'}: ${issue.message}` });
    }
    if (inFlight)
      return sendJson(res, 409, {
        error: `turn ${inFlight.turnId} is still running; POST /abort to stop it`,
      });
    if (adapter.busy())
      return sendJson(res, 409, {
        error: 'the agent is running a turn sent to it directly; POST /abort to stop it',
      });
    const agent = adapter.health();
    if (agent.state !== 'ready')
      return sendJson(res, 503, { error: agent.reason ?? 'the agent is starting' });
    const turn = { turnId: randomUUID(), controller: new AbortController() };
    inFlight = turn;
    events.publish({ type: 'turn_started', turn_id: turn.turnId });
    const started = Date.now();
    try {
      const parts = await adapter.turn(parsed.data.parts, {
        turnId: turn.turnId,
        emit: (event) => events.publish(event),
        signal: turn.controller.signal,
      });
      events.publish({ type: 'turn_done', turn_id: turn.turnId, parts });
      logger.info({
        event: 'turn_done',
        turn_id: turn.turnId,
        ms: Date.now() - started,
        parts: parts.length,
      });
      const response: TurnResponse = { parts };
      sendJson(res, 200, response);
    } catch (error) {
      const aborted = turn.controller.signal.aborted;
      const message = aborted ? 'the turn was aborted' : (error as Error).message;
      const status =
        aborted || error instanceof AgentBusyError ? 409 : error instanceof AgentUnavailableError ? 503 : 502;
      events.publish({ type: 'error', turn_id: turn.turnId, message });
      logger.warn({ event: 'turn_failed', turn_id: turn.turnId, aborted, message });
      sendJson(res, status, { error: message });
    } finally {
      if (inFlight === turn) inFlight = null;
    }
  };

  const handleEvents = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const write = ({ id, event }: { id: number; event: { type: string } }) =>
      res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    const lastId = Number(req.headers['last-event-id'] ?? 0);
    if (Number.isFinite(lastId) && lastId > 0) events.since(lastId).forEach(write);
    res.write(': connected\n\n');
    const unsubscribe = events.subscribe(write);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  };

  const handleOpencode = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const native = adapter.kind === 'api' && adapter.nativeServer ? adapter : null;
    if (!native) {
      req.resume();
      return sendJson(res, 404, { error: `${options.harnessId} has no opencode server` });
    }
    void native.nativeServer!().then((target) => {
      if (!target) {
        req.resume();
        const agent = adapter.health();
        return sendJson(res, 503, { error: agent.reason ?? 'opencode is starting' });
      }
      res.once('close', () => target.release());
      forwardToOpencode(req, res, target);
    });
  };

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://harness');
    const route = `${req.method} ${pathname}`;
    if (route === 'GET /health') {
      const agent = adapter.health();
      const status = !ready ? 'starting' : agent.state === 'ready' ? 'ok' : agent.state;
      const health: HarnessHealth = {
        status,
        harness_id: options.harnessId,
        supports_tui: supportsTui,
        harness_session_id: adapter.conversationId(),
        busy: inFlight !== null || (adapter.kind === 'api' && adapter.busy()),
        ...(status === 'dead' ? { reason: agent.reason ?? 'the agent process died' } : {}),
      };
      return sendJson(res, status === 'dead' ? 503 : 200, health);
    }
    if (!authorized(req)) {
      req.resume();
      return sendJson(res, 401, {
        error: 'missing or wrong harness token (Authorization: Bearer <HARNESS_TOKEN>)',
      });
    }
    if (pathname === HARNESS_OPENCODE_PREFIX || pathname.startsWith(`${HARNESS_OPENCODE_PREFIX}/`))
      return handleOpencode(req, res);
    switch (route) {
      case 'POST /turn':
        return void handleTurn(req, res);
      case 'GET /events':
        return handleEvents(req, res);
      case 'POST /abort':
        req.resume();
        if (inFlight) inFlight.controller.abort();
        else if (adapter.kind === 'api') adapter.abort();
        res.writeHead(204).end();
        return;
      default:
        req.resume();
        return sendJson(res, 404, { error: `no route ${route}` });
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url ?? '/', 'http://harness');
    if (pathname !== '/tty') return rejectUpgrade(socket, 404, `no WebSocket route ${pathname}`);
    if (!authorized(req, true)) return rejectUpgrade(socket, 401, 'missing or wrong harness token');
    if (adapter.kind !== 'tui')
      return rejectUpgrade(socket, 409, `${options.harnessId} has no TUI; use POST /turn`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      logger.info({ event: 'tty_attached' });
      adapter.attach(ws);
    });
  });

  return {
    server,
    events,
    setReady: () => {
      ready = true;
    },
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: async () => {
      inFlight?.controller.abort();
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
