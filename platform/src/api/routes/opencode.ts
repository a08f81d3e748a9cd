/**
 * `ALL /sessions/{id}/opencode/*`: the sandbox's own opencode server, passed through
 * the harness's `/opencode/*` (contract 7) verbatim: method, path, query, body, and the
 * answer streamed back (SSE `GET .../opencode/event` included), so opencode's own
 * client (`@opencode-ai/sdk`) works against a session. The client authenticates with
 * the master key; the platform adds the sandbox's harness token. Like the upstream
 * platform it waits up to 60 s for a creating session (404 unknown, 410 failed or
 * dead, 504 not ready in time). Only opencode sessions have it.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { opencodeRequest } from '../../harness/client';
import { harnessToken, sandboxIdOf } from '../../sandbox/tokens';
import { idParams } from '../../validation/common';
import { BODY_LIMITS } from '../body-limits';
import type { RouteOptions } from '../deps';
import { HttpError } from '../errors';
import { clientGone, readyWithin60s, turnHttpError } from '../session-http';

/** Request headers passed on to opencode (the rest, the client's Authorization included, stay here). */
const FORWARDED_HEADERS = ['content-type', 'accept', 'last-event-id'];

export const opencodeRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const sessions = deps.sessions;
  // Bodies go through untouched: any content type, as bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: BODY_LIMITS.opencode },
    (_request, body, done) => done(null, body),
  );

  app.all(
    '/managed_agents/sessions/:id/opencode/*',
    {
      bodyLimit: BODY_LIMITS.opencode,
      schema: {
        summary: "The session's opencode server, passed through (opencode sessions only)",
        tags: ['sessions'],
        params: idParams.extend({ '*': z.string() }),
      },
    },
    async (request, reply) => {
      const gone = clientGone(reply);
      const session = await readyWithin60s(sessions, request.params.id, gone);
      if (session.harness_id !== 'opencode')
        throw new HttpError(
          404,
          `session '${session.id}' runs the ${session.harness_id} harness: /opencode/* is only for opencode sessions`,
        );
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const headers: Record<string, string> = {};
      for (const name of FORWARDED_HEADERS) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined;
      let upstream;
      try {
        upstream = await opencodeRequest(
          session.sandbox_url!,
          harnessToken(sessions.signingKey, sandboxIdOf(session)),
          {
            method: request.method,
            pathAndQuery: `${request.params['*']}${query}`,
            headers,
            body,
            signal: gone,
          },
        );
      } catch (err) {
        throw turnHttpError(err);
      }
      const contentType = upstream.headers['content-type'];
      reply.code(upstream.statusCode);
      if (typeof contentType === 'string') reply.header('content-type', contentType);
      if (typeof contentType === 'string' && contentType.includes('text/event-stream')) {
        reply.header('cache-control', 'no-cache, no-transform');
        reply.header('x-accel-buffering', 'no');
      }
      return reply.send(upstream.body);
    },
  );
};
