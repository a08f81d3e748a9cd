import crypto from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { keepBindingsOf } from '../../agents/bindings';
import { withoutSkillBlocks } from '../../agents/prompt';
import { sealAgentEnvVars, sealLitellmApiKey } from '../../agents/secrets';
import {
  deleteAgent,
  getAgent,
  getAgentListVersion,
  getAgentsWithVersions,
  insertAgent,
  listAgentVersions,
  updateAgent,
  type AgentChanges,
  type AgentRecord,
} from '../../db/agents';
import { withTransaction } from '../../db/pool';
import { attachSkill, getSkills } from '../../db/skills';
import {
  agentSchema,
  createAgentSchema,
  listAgentsQuerySchema,
  patchAgentSchema,
} from '../../validation/agent';
import { errorResponses, idParams, pageSchema } from '../../validation/common';
import { bindingKeyProblem } from '../../validation/env-var-hosts';
import { BODY_LIMITS } from '../body-limits';
import type { ApiDeps, RouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';
import { RenderedAgentCache, RenderedPageCache } from '../rendered-agents';
import { compileJsonWriter } from '../schema-compilers';
import { agentView } from '../views';

const AGENTS = '/managed_agents/agents';

// The same caches for both prefixes (/api/v1 and /v1) of one app.
const renderedCaches = new WeakMap<ApiDeps, { agents: RenderedAgentCache; pages: RenderedPageCache }>();
const writeAgent = compileJsonWriter(agentSchema)!;
const PAGE_HEAD = Buffer.from('{"data":[');
const COMMA = Buffer.from(',');

export const agentRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const { db, secretStore } = deps;
  if (!renderedCaches.has(deps)) {
    renderedCaches.set(deps, { agents: new RenderedAgentCache(), pages: new RenderedPageCache() });
  }
  const { agents: rendered, pages: renderedPages } = renderedCaches.get(deps)!;

  /** The page's agents as JSON, in page order; only agents not rendered at their current version are read. */
  async function renderPage(entries: { id: string; version: string }[]): Promise<Buffer[]> {
    const missing = entries.filter((e) => rendered.get(e.id, e.version) === undefined).map((e) => e.id);
    const fresh = new Map<string, Buffer>();
    for (const { agent, version } of await getAgentsWithVersions(db, missing)) {
      const json = Buffer.from(writeAgent(agentView(agent)));
      rendered.set(agent.id, version, json);
      fresh.set(agent.id, json);
    }
    // An agent changed since the page query is shown as read just now; one deleted since is left out.
    return entries.flatMap((e) => fresh.get(e.id) ?? rendered.get(e.id, e.version) ?? []);
  }

  async function requireAgent(id: string): Promise<AgentRecord> {
    const agent = await getAgent(db, id);
    if (!agent) throw notFound('agent', id);
    return agent;
  }

  app.post(
    AGENTS,
    {
      bodyLimit: BODY_LIMITS.agent,
      schema: {
        summary: 'Create an agent',
        tags: ['agents'],
        body: createAgentSchema,
        response: { 201: agentSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const bindingProblem = bindingKeyProblem(body.env_var_hosts, Object.keys(body.env_vars));
      if (bindingProblem) throw new HttpError(400, bindingProblem);
      const id = crypto.randomUUID();
      const skillIds = [...new Set(body.skill_ids.map((s) => s.toLowerCase()))];
      // Encrypt before the transaction: a KMS round trip should not hold a connection.
      const sealed = await sealAgentEnvVars(secretStore, id, body.env_vars);
      const litellmKey = body.litellm_api_key
        ? await sealLitellmApiKey(secretStore, id, body.litellm_api_key)
        : null;
      await withTransaction(db, async (tx) => {
        const skills = await getSkills(tx, skillIds);
        const missing = skillIds.find((s) => !skills.some((k) => k.id === s));
        if (missing !== undefined) throw notFound('skill', missing);
        await insertAgent(tx, {
          id,
          name: body.name ?? null,
          model: body.model,
          prompt: body.prompt ?? null,
          harness_id: body.harness_id,
          repo_url: body.repo_url ?? null,
          branch: body.branch,
          requirements: body.requirements ?? null,
          mcp_servers: body.mcp_servers,
          ...sealed,
          env_var_hosts: body.env_var_hosts,
          litellm_api_base: body.litellm_api_base ?? null,
          litellm_api_key_ciphertext: litellmKey,
          allow_out: body.allow_out,
          deny_out: body.deny_out,
          sandbox_files: body.sandbox_files,
          pfp_url: body.pfp_url ?? null,
          template_id: body.template_id ?? null,
        });
        for (const skill of skills) await attachSkill(tx, id, skill);
      });
      return reply.code(201).send(agentView(await requireAgent(id)));
    },
  );

  app.get(
    AGENTS,
    {
      schema: {
        summary: 'List agents',
        tags: ['agents'],
        querystring: listAgentsQuerySchema,
        response: { 200: pageSchema(agentSchema), ...errorResponses },
      },
    },
    async (request, reply) => {
      const query = request.query;
      // Read the version before the page: a page is then never older than the version it is kept under.
      const version = query.sort === 'sessions' ? undefined : await getAgentListVersion(db);
      const key = `${query.sort}|${query.order}|${query.limit}|${query.offset}|${query.search ?? ''}`;
      let body = version === undefined ? undefined : renderedPages.get(version, key);
      if (!body) {
        const { entries, total } = await listAgentVersions(db, query);
        const data = await renderPage(entries);
        const parts: Buffer[] = [PAGE_HEAD];
        data.forEach((json, i) => {
          if (i > 0) parts.push(COMMA);
          parts.push(json);
        });
        parts.push(Buffer.from(`],"total":${total},"limit":${query.limit},"offset":${query.offset}}`));
        body = Buffer.concat(parts);
        if (version !== undefined) renderedPages.set(version, key, body);
      }
      // Already JSON, written by the agent schema's own writer: a Buffer skips the page serializer.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    `${AGENTS}/:id`,
    {
      schema: {
        summary: 'Get an agent',
        tags: ['agents'],
        params: idParams,
        response: { 200: agentSchema, ...errorResponses },
      },
    },
    async (request) => agentView(await requireAgent(request.params.id)),
  );

  app.patch(
    `${AGENTS}/:id`,
    {
      bodyLimit: BODY_LIMITS.agent,
      schema: {
        summary: 'Update an agent (applies from its next session)',
        tags: ['agents'],
        params: idParams,
        body: patchAgentSchema,
        response: { 200: agentSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { env_vars: envVars, env_var_hosts: envVarHosts, ...fields } = request.body;
      const changes: AgentChanges = { ...fields };
      if (envVars !== undefined || envVarHosts !== undefined || typeof fields.prompt === 'string') {
        const current = await requireAgent(id);
        // The prompt as read shows the attached skills' blocks; they are not part of what is stored.
        if (typeof fields.prompt === 'string')
          changes.prompt = withoutSkillBlocks(fields.prompt, current.attached_skill_ids) || null;
        const keys = envVars !== undefined ? Object.keys(envVars) : current.env_var_keys;
        if (envVarHosts !== undefined) {
          const bindingProblem = bindingKeyProblem(envVarHosts, keys);
          if (bindingProblem) throw new HttpError(400, bindingProblem);
          changes.env_var_hosts = envVarHosts;
        } else if (envVars !== undefined) {
          // New env vars without new bindings: a removed key takes its binding with it.
          changes.env_var_hosts = keepBindingsOf(current.env_var_hosts, keys);
        }
      }
      if (envVars !== undefined) Object.assign(changes, await sealAgentEnvVars(secretStore, id, envVars));
      const agent = await updateAgent(db, id, changes);
      if (!agent) throw notFound('agent', id);
      return agentView(agent);
    },
  );

  app.delete(
    `${AGENTS}/:id`,
    {
      schema: {
        summary: 'Delete an agent and stop its sessions and sandboxes',
        tags: ['agents'],
        params: idParams,
        response: { 204: z.null().describe('deleted'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await requireAgent(id);
      await deps.sessions.stopAllForAgent(id);
      // Sessions, warm sandboxes, skills copies and memories go with the row (ON DELETE CASCADE).
      await deleteAgent(db, id);
      return reply.code(204).send(null);
    },
  );
};
