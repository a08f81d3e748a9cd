/**
 * Internal sandbox routes (harness -> platform): the boot spec and phase reports. Served
 * only on the internal listener (buildInternalApp: the worker's INTERNAL_PORT), never on the
 * public one. Authenticated with the sandbox's own CALLBACK_TOKEN (HMAC of its id), never
 * the master key, and only while the sandbox serves something live
 * (lifecycle/sandbox-callbacks.ts); the sandbox id is a session id or a warm sandbox id.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LiveSandbox } from '../../lifecycle/sandbox-callbacks';
import { errorSchema } from '../../validation/common';
import type { InternalRouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';

const SANDBOX = '/internal/sandboxes/:id';
const params = z.object({ id: z.string() });

const phaseReportSchema = z.object({
  phase: z.enum(['cloning_repo', 'installing_deps', 'harness_listening', 'failed']),
  detail: z.string().max(2000, 'at most 2000 characters').optional(),
  failure_reason: z.string().max(4000, 'at most 4000 characters').optional(),
});

const bootSpecSchema = z.object({
  sandbox_id: z.string(),
  agent_id: z.string(),
  harness_id: z.enum(['opencode', 'claude-agent-sdk', 'claude-code', 'codex']),
  model: z.string(),
  prompt: z.string(),
  repo_url: z.string().nullable(),
  branch: z.string(),
  requirements: z.string().nullable(),
  mcp_servers: z.array(z.string()),
  litellm_api_base: z.string(),
  files: z.array(z.object({ path: z.string(), content_base64: z.string(), mode: z.number().optional() })),
});

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };

export const internalRoutes: FastifyPluginAsyncZod<InternalRouteOptions> = async (app, { deps }) => {
  const callbacks = deps.sandboxCallbacks;
  const authorized = new WeakMap<FastifyRequest, LiveSandbox>();
  const sandboxOf = (request: FastifyRequest) => authorized.get(request)!;

  app.addHook('onRequest', async (request) => {
    const { id } = request.params as { id?: string };
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
    const result = await callbacks.authorize(id ?? '', bearer);
    if (!result.ok) throw new HttpError(result.reason === 'unknown' ? 404 : 401, result.message);
    authorized.set(request, result.sandbox);
  });

  app.get(
    `${SANDBOX}/spec`,
    { schema: { hide: true, params, response: { 200: bootSpecSchema, ...errors } } },
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
