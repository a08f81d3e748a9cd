import crypto from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getAgent, lockAgent } from '../../db/agents';
import { withTransaction } from '../../db/pool';
import {
  attachSkill,
  deleteSkill,
  detachSkills,
  getSkill,
  insertSkill,
  listSkills,
  updateSkill,
  type SkillRecord,
} from '../../db/skills';
import { agentSchema } from '../../validation/agent';
import { errorResponses, idParams, pageSchema, paginationQuery } from '../../validation/common';
import {
  attachSkillSchema,
  createSkillSchema,
  detachSkillQuerySchema,
  patchSkillSchema,
  skillSchema,
} from '../../validation/skill';
import { BODY_LIMITS } from '../body-limits';
import type { RouteOptions } from '../deps';
import { HttpError, notFound } from '../errors';
import { agentView, skillView } from '../views';

const SKILLS = '/skills';
const AGENT_SKILL = '/managed_agents/agents/:id/skill';

/** An inline skill without a name is named after its first line (a Markdown heading, usually). */
function nameFromContent(content: string): string {
  const firstLine = content.split('\n').find((line) => line.trim() !== '') ?? '';
  return (
    firstLine
      .replace(/^#+\s*/, '')
      .trim()
      .slice(0, 80) || 'skill'
  );
}

export const skillRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;

  async function requireSkill(id: string): Promise<SkillRecord> {
    const skill = await getSkill(db, id);
    if (!skill) throw notFound('skill', id);
    return skill;
  }

  async function agentAfterChange(id: string) {
    const agent = await getAgent(db, id);
    if (!agent) throw notFound('agent', id);
    return agentView(agent);
  }

  app.post(
    SKILLS,
    {
      bodyLimit: BODY_LIMITS.skill,
      schema: {
        summary: 'Create a library skill',
        tags: ['skills'],
        body: createSkillSchema,
        response: { 201: skillSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name, content, description } = request.body;
      const skill = await insertSkill(db, { name, content, description: description ?? null });
      return reply.code(201).send(skillView(skill));
    },
  );

  app.get(
    SKILLS,
    {
      schema: {
        summary: 'List library skills, newest first',
        tags: ['skills'],
        querystring: z.object(paginationQuery),
        response: { 200: pageSchema(skillSchema), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const { skills, total } = await listSkills(db, { limit, offset });
      return { data: skills.map(skillView), total, limit, offset };
    },
  );

  app.get(
    `${SKILLS}/:id`,
    {
      schema: {
        summary: 'Get a library skill',
        tags: ['skills'],
        params: idParams,
        response: { 200: skillSchema, ...errorResponses },
      },
    },
    async (request) => skillView(await requireSkill(request.params.id)),
  );

  app.patch(
    `${SKILLS}/:id`,
    {
      bodyLimit: BODY_LIMITS.skill,
      schema: {
        summary: 'Update a library skill (agents that embed it keep their copy)',
        tags: ['skills'],
        params: idParams,
        body: patchSkillSchema,
        response: { 200: skillSchema, ...errorResponses },
      },
    },
    async (request) => {
      const skill = await updateSkill(db, request.params.id, request.body);
      if (!skill) throw notFound('skill', request.params.id);
      return skillView(skill);
    },
  );

  app.delete(
    `${SKILLS}/:id`,
    {
      schema: {
        summary: 'Delete a library skill (agents that embed it keep their copy)',
        tags: ['skills'],
        params: idParams,
        response: { 204: z.null().describe('deleted'), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!(await deleteSkill(db, request.params.id))) throw notFound('skill', request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    AGENT_SKILL,
    {
      bodyLimit: BODY_LIMITS.skill,
      schema: {
        summary: 'Attach a library skill (skill_id) or an inline one (content) to an agent',
        tags: ['skills'],
        params: idParams,
        body: attachSkillSchema,
        response: { 200: z.object({ agent: agentSchema, skill: skillSchema.optional() }), ...errorResponses },
      },
    },
    async (request) => {
      const agentId = request.params.id;
      const body = request.body;
      const skill = await withTransaction(db, async (tx) => {
        if (!(await lockAgent(tx, agentId))) throw notFound('agent', agentId);
        if (body.skill_id !== undefined) {
          const library = await getSkill(tx, body.skill_id);
          if (!library) throw notFound('skill', body.skill_id);
          await attachSkill(tx, agentId, library);
          return library;
        }
        const content = body.content as string; // the schema guarantees skill_id xor content
        const inline = {
          name: body.name ?? nameFromContent(content),
          description: body.description ?? null,
          content,
        };
        if (body.save_to_library) {
          const saved = await insertSkill(tx, inline);
          await attachSkill(tx, agentId, saved);
          return saved;
        }
        // Not in the library: only the agent's copy exists, under an id of its own.
        await attachSkill(tx, agentId, { id: crypto.randomUUID(), ...inline });
        return undefined;
      });
      return { agent: await agentAfterChange(agentId), ...(skill ? { skill: skillView(skill) } : {}) };
    },
  );

  app.delete(
    AGENT_SKILL,
    {
      schema: {
        summary: 'Detach one skill (skill_id) or all skills from an agent',
        tags: ['skills'],
        params: idParams,
        querystring: detachSkillQuerySchema,
        response: { 200: z.object({ agent: agentSchema }), ...errorResponses },
      },
    },
    async (request) => {
      const agentId = request.params.id;
      const skillId = request.query.skill_id;
      await withTransaction(db, async (tx) => {
        if (!(await lockAgent(tx, agentId))) throw notFound('agent', agentId);
        const detached = await detachSkills(tx, agentId, skillId);
        if (skillId !== undefined && detached === 0) {
          throw new HttpError(404, `skill '${skillId}' is not attached to agent '${agentId}'`);
        }
      });
      return { agent: await agentAfterChange(agentId) };
    },
  );
};
