/**
 * `GET /sessions/{id}/tty` (WebSocket): the terminal of a TUI session (claude-code, codex),
 * through the platform, so a client reaches it wherever the API is reachable (the sandbox's
 * own port is open only to the platform). The platform connects to the harness's `/tty` with
 * the harness token, which never leaves it, and joins the two sockets (terminal-pipe.ts).
 *
 * Auth, checked before anything is upgraded: `Authorization: Bearer <MASTER_KEY>`, or the
 * session's `tty_token` (from the session view) as `Authorization: Bearer <tty_token>` or
 * `?token=<tty_token>` (the upstream CLI sends both). The TTY token opens this session's
 * terminal for TTY_TOKEN_TTL_MS and is worth nothing anywhere else.
 *
 * Before the upgrade, as HTTP answers `{ "error" }`: 401 auth, 404 unknown session, 409 not a
 * TUI session, 410 failed or dead, 504 still creating after 60 s (a creating session is
 * waited for, like /stream), 502 the harness refused or is unreachable, 426 not a WebSocket
 * request. After it, close codes: see terminal-pipe.ts.
 */
import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { openTerminal, supportsTui } from '../../harness/client';
import { harnessToken, isValidTtyToken, sandboxIdOf } from '../../sandbox/tokens';
import { errorResponses, errorSchema, idParams } from '../../validation/common';
import { bearerToken, masterKeyCheck } from '../auth';
import type { RouteOptions } from '../deps';
import { HttpError } from '../errors';
import { readyWithin60s, turnHttpError } from '../session-http';
import { pipeTerminal, TERMINAL_CLOSE, type TerminalPipe } from '../terminal-pipe';
import { pendingUpgrade, takeUpgrade } from '../websocket-upgrade';

/** The route, relative to the API prefixes (`/api/v1`, `/v1`). */
const TTY_ROUTE = '/managed_agents/sessions/:id/tty';

/** Pings on both sides: well under the load balancer's idle timeout (at least 60 s). */
const KEEPALIVE_MS = 30_000;
/** Queued toward one side before the other is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** The largest frame a client may send (keystrokes, a paste, a resize). */
const CLIENT_MAX_FRAME_BYTES = 1024 * 1024;

/** The public address of a session's terminal: on BASE_URL, or a path on the API's host without it. */
export function publicTtyUrl(publicUrl: string | null, sessionId: string): string {
  const route = `/api/v1${TTY_ROUTE.replace(':id', encodeURIComponent(sessionId))}`;
  if (!publicUrl) return route;
  return `${publicUrl.replace(/\/+$/, '')}${route}`.replace(/^http/, 'ws');
}

/** The master key in the Authorization header, or this session's TTY token there or in `?token=`. */
function requireMasterKeyOrTtyToken(masterKey: string, signingKey: string): onRequestHookHandler {
  const isMasterKey = masterKeyCheck(masterKey);
  return async (request) => {
    const sessionId = (request.params as { id?: string }).id ?? '';
    const header = bearerToken(request.headers.authorization);
    const query = (request.query as { token?: unknown }).token;
    if (header !== null && isMasterKey(header)) return;
    const presented = [header, typeof query === 'string' ? query : null].filter((t) => t !== null);
    if (presented.length === 0)
      throw new HttpError(
        401,
        "missing credentials: send Authorization: Bearer <MASTER_KEY>, or the session's tty_token",
      );
    if (!presented.some((token) => isValidTtyToken(signingKey, sessionId, token)))
      throw new HttpError(
        401,
        'invalid bearer token or tty_token (a tty_token expires: read the session again)',
      );
  };
}

export const ttyRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const sessions = deps.sessions;
  const server = new WebSocketServer({ noServer: true, maxPayload: CLIENT_MAX_FRAME_BYTES });
  const attached = new Set<TerminalPipe>();
  app.addHook('onRequest', requireMasterKeyOrTtyToken(deps.masterKey, sessions.signingKey));
  app.addHook('preClose', async () => {
    for (const pipe of attached)
      pipe.close(TERMINAL_CLOSE.platformStopping, 'platform stopping: attach again');
    await Promise.all([...attached].map((pipe) => pipe.done));
  });

  app.get(
    TTY_ROUTE,
    {
      schema: {
        summary:
          "The session's terminal (TUI harnesses: claude-code, codex) as a WebSocket: raw bytes both ways, text frame {type:'resize',cols,rows}",
        tags: ['sessions'],
        params: idParams,
        querystring: z.object({ token: z.string().optional() }),
        response: {
          ...errorResponses,
          409: errorSchema,
          410: errorSchema,
          426: errorSchema,
          502: errorSchema,
          504: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const upgrade = pendingUpgrade(request.raw);
      if (!upgrade || request.headers.upgrade?.toLowerCase() !== 'websocket')
        throw new HttpError(426, 'connect with a WebSocket (Connection: Upgrade, Upgrade: websocket)');
      const gone = new AbortController();
      upgrade.socket.once('close', () => gone.abort(new Error('client went away')));
      let session;
      let terminal;
      try {
        session = await readyWithin60s(sessions, request.params.id, gone.signal);
        if (!supportsTui(session.harness_id))
          throw new HttpError(
            409,
            `session '${session.id}' runs the ${session.harness_id} harness, which has no terminal: send it messages`,
          );
        terminal = await openTerminal(
          session.sandbox_url!,
          harnessToken(sessions.signingKey, sandboxIdOf(session)),
          gone.signal,
        );
      } catch (err) {
        // The client hung up while it waited: nobody to answer.
        if (gone.signal.aborted) return reply.hijack();
        throw turnHttpError(err);
      }
      reply.hijack();
      takeUpgrade(request.raw, reply.raw);
      if (gone.signal.aborted) {
        terminal.socket.close(TERMINAL_CLOSE.detached, 'client detached');
        return;
      }
      let upgraded = false;
      server.handleUpgrade(request.raw, upgrade.socket, upgrade.head, (client) => {
        upgraded = true;
        const started = Date.now();
        const pipe = pipeTerminal(client, terminal, {
          keepaliveMs: KEEPALIVE_MS,
          highWaterBytes: HIGH_WATER_BYTES,
        });
        attached.add(pipe);
        request.log.info({ session_id: session.id, event: 'tty_attached' }, 'terminal attached');
        void pipe.done.then((end) => {
          attached.delete(pipe);
          request.log.info(
            { session_id: session.id, event: 'tty_detached', ...end, ms: Date.now() - started },
            'terminal detached',
          );
        });
      });
      // handleUpgrade answers a bad handshake (400) itself, synchronously, without calling back.
      if (!upgraded) terminal.socket.close(TERMINAL_CLOSE.detached, 'client handshake refused');
    },
  );
};
