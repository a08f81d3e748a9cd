/**
 * Session routes (lap-reference section 2): create, get, list, message, events
 * (SSE proxy of the harness), stop, delete, diagnose. The work happens in the
 * runtime's SessionManager; this file maps HTTP onto it.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unboundEnvVars } from '../../agents/bindings';
import { getAgent } from '../../db/agents';
import type { SessionListRow, SessionRow } from '../../db/sessions';
import type { Diagnosis } from '../../diagnose/diagnose';
import { harnessToken } from '../../sandbox/tokens';
import { HarnessBusyError, HarnessTurnError, HarnessUnreachableError } from '../../worker/harness-client';
import { sandboxIdOf } from '../../worker/initial-prompt-job';
import { SessionNotReadyError, TuiHarnessError, type SessionManager } from '../../worker/session-service';
import { errorResponses, errorSchema, idParams, paginationQuery, pageSchema } from '../../validation/common';
import { bindingKeyProblem, envVarHostsSchema } from '../../validation/env-var-hosts';
import { envVarsSchema } from '../../validation/env-vars';
import type { RouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';

declare module '../deps' {
  interface RuntimeServices {
    sessionManager: SessionManager;
    diagnose: (sessionId: string) => Promise<Diagnosis | null>;
    harnessTokenSigningKey: string;
  }
}

const SESSIONS = '/managed_agents/sessions';
const KEEP_ALIVE_MS = 15_000;

const messagePartSchema = z.looseObject({ type: z.string().min(1), text: z.string().optional() });

export const sessionSchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  title: z.string().nullable(),
  status: z.enum(['creating', 'ready', 'dead', 'failed']),
  phase: z.string(),
  phase_detail: z.string().nullable(),
  sandbox_url: z.string().nullable(),
  tty_url: z.string().nullable(),
  tty_token: z.string().nullable(),
  response: z.object({ parts: z.array(messagePartSchema) }).nullable(),
  last_seen_at: z.string(),
  idle_timeout_ms: z.number(),
  failure_reason: z.string().nullable(),
  created_at: z.string(),
  task_arn: z.string().nullable(),
  /** Session create only: the per-session env var keys the vault never swaps (no binding). */
  unbound_env_vars: z.array(z.string()).optional(),
});
export type ApiSession = z.infer<typeof sessionSchema>;

const sessionListItemSchema = sessionSchema.extend({
  agent_name: z.string().nullable(),
  harness_id: z.string(),
});

const createSessionSchema = z.strictObject({
  title: z.string().max(500, 'at most 500 characters').nullish(),
  initial_prompt: z.string().max(100_000, 'at most 100000 characters').nullish(),
  env_vars: envVarsSchema.optional(),
  // Bindings of the per-session env vars (never stored); keys must be keys of env_vars.
  env_var_hosts: envVarHostsSchema.optional(),
});

const messageSchema = z
  .strictObject({
    text: z.string().min(1, 'must not be empty').optional(),
    parts: z.array(messagePartSchema).min(1, 'must hold at least one part').optional(),
  })
  .refine((b) => (b.text === undefined) !== (b.parts === undefined), {
    message: 'send either text or parts, not both and not neither',
  });

export function sessionView(session: SessionRow, signingKey: string): ApiSession {
  return {
    id: session.id,
    agent_id: session.agent_id,
    title: session.title,
    status: session.status,
    phase: session.phase,
    phase_detail: session.phase_detail,
    sandbox_url: session.sandbox_url,
    tty_url: session.tty_url,
    tty_token: session.tty_url ? harnessToken(signingKey, sandboxIdOf(session)) : null,
    response: session.response as ApiSession['response'],
    last_seen_at: session.last_seen_at.toISOString(),
    idle_timeout_ms: Number(session.idle_timeout_ms),
    failure_reason: session.failure_reason,
    created_at: session.created_at.toISOString(),
    task_arn: session.sandbox_ref,
  };
}

export const sessionRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const runtime = deps.runtime;
  if (!runtime?.sessionManager || !runtime.diagnose || !runtime.harnessTokenSigningKey) {
    deps.log.warn('session routes disabled: no session runtime in this process');
    return;
  }
  const sessions = runtime.sessionManager;
  const diagnose = runtime.diagnose;
  const signingKey = runtime.harnessTokenSigningKey;
  const view = (s: SessionRow) => sessionView(s, signingKey);

  async function requireSession(id: string): Promise<SessionRow> {
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
        response: { 201: sessionSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const sessionKeys = Object.keys(body.env_vars ?? {});
      const bindingProblem = bindingKeyProblem(body.env_var_hosts ?? {}, sessionKeys);
      if (bindingProblem) throw new HttpError(400, bindingProblem);
      const agent = await getAgent(deps.db, request.params.id);
      if (!agent) throw notFound('agent', request.params.id);
      const session = await sessions.create(agent, body);
      return reply.code(201).send({
        ...view(session),
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
        summary: 'Send a message and wait for the reply (API harnesses)',
        tags: ['sessions'],
        params: idParams,
        body: messageSchema,
        response: {
          200: z.object({ parts: z.array(messagePartSchema) }),
          ...errorResponses,
          409: errorSchema,
          502: errorSchema,
        },
      },
    },
    async (request) => {
      const session = await requireSession(request.params.id);
      const agent = await getAgent(deps.db, session.agent_id);
      const parts = request.body.parts ?? [{ type: 'text', text: request.body.text! }];
      const abort = new AbortController();
      request.raw.on('close', () => {
        if (!request.raw.complete || request.raw.destroyed) abort.abort();
      });
      try {
        return await sessions.message(session.id, agent, parts, abort.signal);
      } catch (err) {
        if (err instanceof SessionNotReadyError) throw new HttpError(404, err.message);
        if (err instanceof TuiHarnessError) throw new HttpError(400, err.message);
        if (err instanceof HarnessUnreachableError)
          throw new HttpError(502, `${err.message}; the session is now dead`);
        if (err instanceof HarnessBusyError) throw new HttpError(409, err.message);
        if (err instanceof HarnessTurnError) throw new HttpError(502, err.message);
        throw err;
      }
    },
  );

  app.get(
    `${SESSIONS}/:id/events`,
    {
      schema: {
        summary: 'Server-Sent Events of the harness (token deltas, tool calls, turn done)',
        tags: ['sessions'],
        params: idParams,
        response: { ...errorResponses, 502: errorSchema },
      },
    },
    async (request, reply) => {
      const session = await requireSession(request.params.id);
      const abort = new AbortController();
      let upstream;
      try {
        const lastEventId = request.headers['last-event-id'];
        upstream = await sessions.openEvents(
          session.id,
          abort.signal,
          typeof lastEventId === 'string' ? lastEventId : undefined,
        );
      } catch (err) {
        if (err instanceof SessionNotReadyError) throw new HttpError(404, err.message);
        if (err instanceof HarnessUnreachableError || err instanceof HarnessTurnError)
          throw new HttpError(502, err.message);
        throw err;
      }
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies (nginx-style) must not buffer the stream.
        'x-accel-buffering': 'no',
      });
      out.write(': connected\n\n');
      // Comments keep idle connections open through load balancers between turns.
      const keepAlive = setInterval(() => out.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      const finish = () => {
        clearInterval(keepAlive);
        abort.abort();
        if (!out.writableEnded) out.end();
      };
      request.raw.on('close', finish);
      upstream.body.on('data', (chunk: Buffer) => out.write(chunk));
      upstream.body.on('end', finish);
      upstream.body.on('error', finish);
    },
  );

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
      const diagnosis = await diagnose(request.params.id);
      if (!diagnosis) throw notFound('session', request.params.id);
      return {
        ...diagnosis,
        session: view(diagnosis.session),
        agent: diagnosis.agent && {
          ...diagnosis.agent,
          env_vars: Object.fromEntries(diagnosis.agent.env_var_keys.map((k) => [k, '<redacted>'])),
        },
      };
    },
  );
};
