/**
 * Internal sandbox routes (harness -> platform): the boot spec and phase reports. Served
 * only on the internal listener (buildInternalApp: the worker's INTERNAL_PORT), never on the
 * public one. Authenticated with the sandbox's own CALLBACK_TOKEN (HMAC of its id), never
 * the master key, and only while the sandbox serves something live
 * (lifecycle/sandbox-callbacks.ts); the sandbox id is a session id or a warm sandbox id.
 */
import { phaseReportSchema, sandboxBootSpecSchema } from '@lap/sandbox-protocol';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveSandbox } from '../../lifecycle/sandbox-callbacks';
import { errorSchema } from '../../validation/common';
import { bearerToken } from '../auth';
import type { InternalRouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';

const SANDBOX = '/internal/sandboxes/:id';
const params = z.object({ id: z.string() });

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };

export const internalRoutes: FastifyPluginAsyncZod<InternalRouteOptions> = async (app, { deps }) => {
  const callbacks = deps.sandboxCallbacks;
  const authorized = new WeakMap<FastifyRequest, LiveSandbox>();
  const sandboxOf = (request: FastifyRequest) => authorized.get(request)!;

  app.addHook('onRequest', async (request) => {
    const { id } = request.params as { id?: string };
    const bearer = bearerToken(request.headers.authorization) ?? undefined;
    const result = await callbacks.authorize(id ?? '', bearer);
    if (!result.ok) throw new HttpError(result.reason === 'unknown' ? 404 : 401, result.message);
    authorized.set(request, result.sandbox);
  });

  app.get(
    `${SANDBOX}/spec`,
    { schema: { hide: true, params, response: { 200: sandboxBootSpecSchema, ...errors } } },
    async (request) => {
      const spec = await callbacks.bootSpec(sandboxOf(request));
      if (!spec) throw notFound('sandbox', request.params.id);
      return spec;
    },
  );

  app.post(
    `${SANDBOX}/phase`,
    { schema: { hide: true, params, body: phaseReportSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await callbacks.reportPhase(sandboxOf(request), request.body);
      return reply.code(204).send(null);
    },
  );
};
