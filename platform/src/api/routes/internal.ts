/**
 * Internal sandbox routes (harness -> platform): the boot spec and phase reports.
 * Kept in this module of their own: contract 3 moves them to the worker's internal
 * port, away from the public listener.
 * Authenticated with the sandbox's own CALLBACK_TOKEN (HMAC of its id), never the
 * master key; the sandbox id is a session id or a warm sandbox id.
 */
import { phaseReportSchema, sandboxBootSpecSchema } from '@lap/sandbox-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorSchema } from '../../validation/common';
import type { RouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';

const SANDBOX = '/internal/sandboxes/:id';
const params = z.object({ id: z.string() });

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };

export const internalRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const callbacks = deps.sandboxCallbacks;

  app.addHook('onRequest', async (request) => {
    const { id } = request.params as { id?: string };
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
    if (!id || !callbacks.isAuthorized(id, bearer))
      throw new HttpError(401, 'invalid or missing callback token');
  });

  app.get(
    `${SANDBOX}/spec`,
    { schema: { hide: true, params, response: { 200: sandboxBootSpecSchema, ...errors } } },
    async (request) => {
      const spec = await callbacks.bootSpec(request.params.id);
      if (!spec) throw notFound('sandbox', request.params.id);
      return spec;
    },
  );

  app.post(
    `${SANDBOX}/phase`,
    { schema: { hide: true, params, body: phaseReportSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const known = await callbacks.reportPhase(request.params.id, request.body);
      if (!known) throw notFound('sandbox', request.params.id);
      return reply.code(204).send(null);
    },
  );
};
