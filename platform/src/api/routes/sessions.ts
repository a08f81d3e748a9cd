/**
 * Session routes (lap-reference sections 2 and 9): create, get, list, message,
 * message_stream, events, stream, the opencode passthrough, stop, delete, diagnose.
 * The work happens in sessions/; this file maps HTTP onto it. The SSE routes follow
 * the upstream platform's wire behaviour (see ROUTES.md).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unboundEnvVars } from '../../agents/bindings';
import { getAgent } from '../../db/agents';
import type { SessionListRow, SessionWithHarness } from '../../db/sessions';
import { openEventStream, supportsTui } from '../../harness/client';
import { harnessToken, sandboxIdOf, ttyToken } from '../../sandbox/tokens';
import { openSessionEvents, type FeedItem } from '../../sessions/session-events';
import { errorResponses, errorSchema, idParams, paginationQuery, pageSchema } from '../../validation/common';
import { bindingKeyProblem, envVarHostsSchema } from '../../validation/env-var-hosts';
import { envVarsSchema } from '../../validation/env-vars';
import { messagePartSchema, messageSchema } from '../../validation/message';
import { WorkerRefusedError, WorkerUnavailableError } from '../../worker-link/client';
import type { RouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';
import { clientGone, readyWithin60s, turnHttpError } from '../session-http';
import { opencodeRoutes } from './opencode';
import { openSse } from './sse';
import { publicTtyUrl } from './tty';

const SESSIONS = '/managed_agents/sessions';
/** /events: the upstream ceiling of one stream. */
const EVENTS_MAX_MS = 600_000;
/** /stream: the upstream ceiling of one stream, and how long it waits for ready. */
const STREAM_MAX_MS = 1_800_000;

/** /message_stream: after the reply, how long the turn's last events get to arrive. */
const TURN_END_GRACE_MS = 2000;

export const sessionSchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  title: z.string().nullable(),
  status: z.enum(['creating', 'ready', 'dead', 'failed']),
  phase: z.string(),
  phase_detail: z.string().nullable(),
  sandbox_url: z.null().describe('always null: the sandbox is private (a field of the upstream API)'),
  harness_session_id: z.string().nullable(),
  supports_tui: z.boolean(),
  tty_url: z
    .string()
    .nullable()
    .describe(
      "TUI sessions, creating or ready: the terminal WebSocket, GET /sessions/{id}/tty on the API's address",
    ),
  tty_token: z
    .string()
    .nullable()
    .describe('with tty_url: a token that opens this terminal only (?token= or Bearer), for a few minutes'),
  response: z.object({ parts: z.array(messagePartSchema) }).nullable(),
  last_seen_at: z.string(),
  idle_timeout_ms: z.number(),
  failure_reason: z.string().nullable(),
  created_at: z.string(),
  task_arn: z.null().describe('always null: sandbox internals are in GET /sessions/{id}/diagnose'),
  /** Session create only: the per-session env var keys the vault never swaps (no binding). */
  unbound_env_vars: z.array(z.string()).optional(),
});
export type ApiSession = z.infer<typeof sessionSchema>;

const sessionListItemSchema = sessionSchema.extend({
  agent_name: z.string().nullable(),
  harness_id: z.string(),
});

/** Unknown keys (e.g. the SDK-repo CLI's `initialPrompt`) are ignored; the known ones keep their rules. */
const createSessionSchema = z.object({
  title: z.string().max(500, 'at most 500 characters').nullish(),
  initial_prompt: z.string().max(100_000, 'at most 100000 characters').nullish(),
  env_vars: envVarsSchema.optional(),
  // Bindings of the per-session env vars (never stored); keys must be keys of env_vars.
  env_var_hosts: envVarHostsSchema.optional(),
});

/**
 * The public session. What a client can use only: `tty_url` is the platform's terminal route
 * (with `tty_token`, a TTY-only token, for clients that cannot send headers) while a TUI
 * session is creating or ready; `sandbox_url` and `task_arn`, the sandbox's private address
 * and its ECS task, are kept as fields for the upstream clients but always null (diagnose
 * shows them to operators).
 */
export function sessionView(
  session: SessionWithHarness,
  context: { signingKey: string; publicUrl: string | null },
): ApiSession {
  const terminal =
    supportsTui(session.harness_id) && (session.status === 'creating' || session.status === 'ready');
  return {
    id: session.id,
    agent_id: session.agent_id,
    title: session.title,
    status: session.status,
    phase: session.phase,
    phase_detail: session.phase_detail,
    sandbox_url: null,
    harness_session_id: session.harness_session_id,
    supports_tui: supportsTui(session.harness_id),
    tty_url: terminal ? publicTtyUrl(context.publicUrl, session.id) : null,
    tty_token: terminal ? ttyToken(context.signingKey, session.id) : null,
    response: session.response as ApiSession['response'],
    last_seen_at: session.last_seen_at.toISOString(),
    idle_timeout_ms: Number(session.idle_timeout_ms),
    failure_reason: session.failure_reason,
    created_at: session.created_at.toISOString(),
    task_arn: null,
  };
}

/** A session with its own env vars that no worker took (web role): nothing was stored. */
function handOffHttpError(err: Error, agentId: string): Error {
  if (err instanceof WorkerUnavailableError)
    return new HttpError(503, `${err.message}: the session was not created (nothing was stored); try again`);
  if (err instanceof WorkerRefusedError)
    return err.status === 404
      ? notFound('agent', agentId)
      : new HttpError(
          502,
          `the worker refused the session (${err.status}: ${err.message}); nothing was stored`,
        );
  return err;
}

export const sessionRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const sessions = deps.sessions;
  const view = (s: SessionWithHarness) =>
    sessionView(s, { signingKey: sessions.signingKey, publicUrl: deps.publicUrl });

  async function requireSession(id: string): Promise<SessionWithHarness> {
    const session = await sessions.get(id);
    if (!session) throw notFound('session', id);
    return session;
  }

  app.post(
    '/managed_agents/agents/:id/session',
    {
      schema: {
        summary: 'Create a session (returns at once with status creating)',
        tags: ['sessions'],
        params: idParams,
        body: createSessionSchema.optional(),
        response: { 201: sessionSchema, ...errorResponses, 502: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const sessionKeys = Object.keys(body.env_vars ?? {});
      const bindingProblem = bindingKeyProblem(body.env_var_hosts ?? {}, sessionKeys);
      if (bindingProblem) throw new HttpError(400, bindingProblem);
      const agent = await getAgent(deps.db, request.params.id);
      if (!agent) throw notFound('agent', request.params.id);
      const session = await sessions.create(agent, body).catch((err: Error) => {
        throw handOffHttpError(err, agent.id);
      });
      return reply.code(201).send({
        ...view({ ...session, harness_id: agent.harness_id }),
        // A session key without its own binding takes the agent's binding of the same key.
        unbound_env_vars: unboundEnvVars(sessionKeys, { ...agent.env_var_hosts, ...body.env_var_hosts }),
      });
    },
  );

  app.get(
    SESSIONS,
    {
      schema: {
        summary: 'List sessions, newest first',
        tags: ['sessions'],
        querystring: z.object({ ...paginationQuery, agent_id: z.uuid('must be a UUID').optional() }),
        response: { 200: pageSchema(sessionListItemSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset, agent_id } = request.query;
      const { rows, total } = await sessions.list({ limit, offset, agentId: agent_id });
      return {
        data: rows.map((r: SessionListRow) => ({
          ...view(r),
          agent_name: r.agent_name,
          harness_id: r.harness_id,
        })),
        total,
        limit,
        offset,
      };
    },
  );

  app.get(
    `${SESSIONS}/:id`,
    {
      schema: {
        summary: 'Get a session',
        tags: ['sessions'],
        params: idParams,
        response: { 200: sessionSchema, ...errorResponses },
      },
    },
    async (request) => view(await requireSession(request.params.id)),
  );

  app.post(
    `${SESSIONS}/:id/message`,
    {
      schema: {
        summary:
          'Send a message and wait for the reply: waits for a creating session to be ready and for the turns before it',
        tags: ['sessions'],
        params: idParams,
        body: messageSchema,
        response: {
          200: z.object({ parts: z.array(messagePartSchema) }),
          ...errorResponses,
          410: errorSchema,
          502: errorSchema,
          504: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const parts = request.body.parts ?? [{ type: 'text', text: request.body.text! }];
      try {
        const answer = await sessions.message(request.params.id, parts, clientGone(reply));
        if (!answer) throw notFound('session', request.params.id);
        return answer;
      } catch (err) {
        throw turnHttpError(err);
      }
    },
  );

  app.post(
    `${SESSIONS}/:id/message_stream`,
    {
      schema: {
        summary: 'Send a message and stream the turn (SSE: ready, harness_event..., done)',
        tags: ['sessions'],
        params: idParams,
        body: messageSchema,
        response: { ...errorResponses, 410: errorSchema, 502: errorSchema, 504: errorSchema },
      },
    },
    async (request, reply) => {
      const gone = clientGone(reply);
      const parts = request.body.parts ?? [{ type: 'text', text: request.body.text! }];
      let session: SessionWithHarness | null;
      try {
        session = await sessions.awaitReady(request.params.id, gone);
        if (session) {
          sessions.requireApiHarness(session);
          await sessions.awaitInitialPrompt(session, gone);
        }
      } catch (err) {
        throw turnHttpError(err);
      }
      if (!session) throw notFound('session', request.params.id);
      const ready = session;
      const sse = openSse(reply, gone, EVENTS_MAX_MS);
      let items: AsyncGenerator<FeedItem>;
      try {
        items = await openSessionEvents(sessions, ready, sse.signal);
      } catch {
        sse.send({ type: 'error', message: 'harness event stream failed' });
        return sse.end();
      }
      sse.send({ type: 'ready' });
      let turnEnded = false;
      const turn = sessions.turns.run(ready, parts).then(
        () => null,
        (err: unknown) => (turnHttpError(err) as Error).message,
      );
      const forward = (async () => {
        for await (const item of items) {
          if (item.kind === 'event') {
            sse.send({ type: 'harness_event', event: item.event });
            if (item.event.type === 'turn_done' || (item.event.type === 'error' && item.event.turn_id))
              turnEnded = true;
          }
        }
      })().catch(() => undefined);
      const failure = await turn;
      if (failure !== null) sse.send({ type: 'error', message: failure });
      else {
        // The harness publishes the turn's end before it answers; give the event a moment to arrive.
        const until = Date.now() + TURN_END_GRACE_MS;
        while (!turnEnded && Date.now() < until && !sse.signal.aborted)
          await new Promise((r) => setTimeout(r, 20));
        sse.send({ type: 'done' });
      }
      sse.end();
      await forward;
    },
  );

  app.get(
    `${SESSIONS}/:id/events`,
    {
      schema: {
        summary:
          "The session's events (SSE: ready, harness_event..., done when the session is idle). ?follow=1: the harness's raw stream, open across turns, resumable with Last-Event-ID",
        tags: ['sessions'],
        params: idParams,
        querystring: z.object({ follow: z.string().optional() }),
        response: { ...errorResponses, 409: errorSchema, 502: errorSchema },
      },
    },
    async (request, reply) => {
      const session = await requireSession(request.params.id);
      if (session.status !== 'ready' || !session.sandbox_url)
        throw new HttpError(409, `session not ready, status=${session.status}`);
      if (request.query.follow === '1' || request.query.follow === 'true')
        return followEvents(request, reply, session, session.sandbox_url);
      const gone = clientGone(reply);
      const sse = openSse(reply, gone, EVENTS_MAX_MS);
      let items: AsyncGenerator<FeedItem>;
      try {
        items = await openSessionEvents(sessions, session, sse.signal);
      } catch {
        sse.send({ type: 'error', message: 'harness event stream failed' });
        return sse.end();
      }
      sse.send({ type: 'ready' });
      try {
        for await (const item of items) {
          if (item.kind === 'idle') {
            sse.send({ type: 'done' });
            break;
          }
          sse.send({ type: 'harness_event', event: item.event });
        }
      } catch {
        if (sse.timedOut()) sse.send({ type: 'error', message: 'stream timeout' });
        else if (!gone.aborted) sse.send({ type: 'error', message: 'event stream interrupted' });
      }
      if (sse.timedOut() && !sse.ended()) sse.send({ type: 'error', message: 'stream timeout' });
      sse.end();
    },
  );

  /** Our continuous stream: the harness's SSE verbatim (ids, event names), kept open, resumable. */
  async function followEvents(
    request: FastifyRequest,
    reply: FastifyReply,
    session: SessionWithHarness,
    sandboxUrl: string,
  ) {
    const gone = clientGone(reply);
    const lastEventId = request.headers['last-event-id'];
    let upstream;
    try {
      upstream = await openEventStream(
        sandboxUrl,
        harnessToken(sessions.signingKey, sandboxIdOf(session)),
        gone,
        typeof lastEventId === 'string' ? lastEventId : undefined,
      );
    } catch (err) {
      throw new HttpError(502, (err as Error).message);
    }
    const sse = openSse(reply, gone, null);
    sse.comment('connected');
    upstream.body.on('data', (chunk: Buffer) => sse.raw(chunk));
    upstream.body.on('end', () => sse.end());
    upstream.body.on('error', () => sse.end());
    await sse.closed;
  }

  app.get(
    `${SESSIONS}/:id/stream`,
    {
      schema: {
        summary:
          "The harness's events verbatim (SSE: stream.opened, then each event), waiting up to 60 s for ready; ends at the end of the first turn it sees (?follow=1: stays open)",
        tags: ['sessions'],
        params: idParams,
        querystring: z.object({ follow: z.string().optional() }),
        response: { ...errorResponses, 410: errorSchema, 504: errorSchema },
      },
    },
    async (request, reply) => {
      const gone = clientGone(reply);
      const follow = request.query.follow === '1';
      const session = await readyWithin60s(sessions, request.params.id, gone);
      const sse = openSse(reply, gone, STREAM_MAX_MS);
      let items: AsyncGenerator<FeedItem>;
      try {
        items = await openSessionEvents(sessions, session, sse.signal);
      } catch {
        return sse.end();
      }
      sse.send({ type: 'stream.opened' });
      // Like upstream, the stream ends at the end of a turn it saw: opened on an idle
      // session it waits for the next turn rather than closing at once.
      let sawTurn = false;
      try {
        for await (const item of items) {
          if (item.kind === 'idle') {
            if (follow || !sawTurn) continue;
            break;
          }
          sawTurn = true;
          sse.send(item.event);
        }
      } catch {
        // the client left, the ceiling fired, or the harness went away: just end
      }
      sse.end();
    },
  );

  await app.register(opencodeRoutes, { deps });

  app.post(
    `${SESSIONS}/:id/stop`,
    {
      schema: {
        summary: 'Stop a session: marks it dead and stops its sandbox',
        tags: ['sessions'],
        params: idParams,
        response: { 200: sessionSchema, ...errorResponses },
      },
    },
    async (request) => {
      const stopped = await sessions.stop(request.params.id);
      if (!stopped) throw notFound('session', request.params.id);
      return view(stopped);
    },
  );

  app.delete(
    `${SESSIONS}/:id`,
    {
      schema: {
        summary: 'Delete a session (idempotent): marks it dead and removes its sandbox',
        tags: ['sessions'],
        params: idParams,
        response: { 204: z.null().describe('deleted'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const stopped = await sessions.stop(request.params.id);
      if (!stopped) throw notFound('session', request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    `${SESSIONS}/:id/diagnose`,
    {
      schema: {
        summary: 'Diagnose a session: rows, sandbox state, logs, warm pool, harness probe, detected issues',
        tags: ['sessions'],
        params: idParams,
        response: { 200: z.looseObject({}), ...errorResponses },
      },
    },
    async (request) => {
      const diagnosis = await deps.diagnose(request.params.id);
      if (!diagnosis) throw notFound('session', request.params.id);
      return {
        ...diagnosis,
        // Operators: the sandbox's private address and task, which the public view leaves out.
        session: {
          ...view(diagnosis.session),
          sandbox_url: diagnosis.session.sandbox_url,
          task_arn: diagnosis.session.sandbox_ref,
        },
        agent: diagnosis.agent && {
          ...diagnosis.agent,
          env_vars: Object.fromEntries(diagnosis.agent.env_var_keys.map((k) => [k, '<redacted>'])),
        },
      };
    },
  );
};
