/**
 * The web -> worker routes of the internal listener (worker/worker-calls.ts does the work,
 * worker-link/client.ts calls them). Every route but the poke takes only a signed call token
 * (worker-link/call-token.ts): a sandbox reaches this listener for its callbacks, and its
 * CALLBACK_TOKEN opens nothing here.
 */
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorSchema } from '../../validation/common';
import { WORKER_ROUTES } from '../../worker-link/client';
import { bearerToken } from '../auth';
import { BODY_LIMITS } from '../body-limits';
import type { InternalRouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';
import { rawBodyOf } from '../raw-body';

const handOffSchema = z.object({
  session_id: z.uuid('must be a UUID'),
  agent_id: z.uuid('must be a UUID'),
  title: z.string().max(500).nullable(),
  initial_prompt: z.string().max(100_000).nullable(),
  sealed_env: z.string().min(1).max(BODY_LIMITS.workerHandOff),
});

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };

export const workerCallRoutes: FastifyPluginAsyncZod<InternalRouteOptions> = async (app, { deps }) => {
  const calls = deps.workerCalls;

  app.post(
    WORKER_ROUTES.poke,
    { schema: { hide: true, response: { 204: z.null() } } },
    async (_request, reply) => {
      calls.poke();
      return reply.code(204).send(null);
    },
  );

  await app.register(async (scope) => {
    const signed = scope.withTypeProvider<ZodTypeProvider>();
    // After parsing (the token covers the raw body), before validation: a bad token is a 401 first.
    signed.addHook('preValidation', async (request) => {
      const bearer = bearerToken(request.headers.authorization) ?? undefined;
      const refusal = calls.refusal(bearer, {
        method: request.method,
        path: request.url,
        body: rawBodyOf(request),
      });
      if (refusal) throw new HttpError(401, refusal);
    });

    signed.post(
      WORKER_ROUTES.handOff,
      {
        bodyLimit: BODY_LIMITS.workerHandOff,
        schema: {
          hide: true,
          body: handOffSchema,
          response: { 201: z.object({ id: z.string() }), ...errors, 409: errorSchema, 503: errorSchema },
        },
      },
      async (request, reply) => {
        const id = request.body.session_id;
        switch (await calls.takeSession(request.body)) {
          case 'created':
            return reply.code(201).send({ id });
          case 'exists':
            throw new HttpError(409, `session '${id}' exists already`);
          case 'agent_missing':
            throw notFound('agent', request.body.agent_id);
          case 'bad_seal':
            throw new HttpError(400, 'sealed_env: does not unseal for this session');
          case 'draining':
            throw new HttpError(503, 'this worker is shutting down: try another');
        }
      },
    );

    signed.get(
      WORKER_ROUTES.logs,
      {
        schema: {
          hide: true,
          params: z.object({ id: z.string() }),
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
          response: { 200: z.object({ lines: z.array(z.string()) }), ...errors },
        },
      },
      async (request) => {
        const lines = await calls.recentLogs(request.params.id, request.query.limit);
        if (!lines) throw notFound('session', request.params.id);
        return { lines };
      },
    );
  });
};
