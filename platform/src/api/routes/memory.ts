import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getAgent } from '../../db/agents';
import { deleteMemory, insertMemory, readMemories, updateMemory } from '../../db/memories';
import { errorResponses, idParams } from '../../validation/common';
import {
  createMemorySchema,
  memoryQuerySchema,
  memorySchema,
  patchMemorySchema,
} from '../../validation/memory';
import type { RouteOptions } from '../deps';
import { notFound } from '../errors';
import { memoryView } from '../views';

const MEMORY = '/managed_agents/agents/:id/memory';
const memoryParams = z.object({ id: z.string(), mid: z.string() });

export const memoryRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;

  async function requireAgent(id: string): Promise<string> {
    const agent = await getAgent(db, id);
    if (!agent) throw notFound('agent', id);
    return agent.id;
  }

  app.get(
    MEMORY,
    {
      schema: {
        summary: "Search an agent's memories (counts as applying them)",
        tags: ['memory'],
        params: idParams,
        querystring: memoryQuerySchema,
        response: { 200: z.object({ data: z.array(memorySchema), total: z.number() }), ...errorResponses },
      },
    },
    async (request) => {
      const agentId = await requireAgent(request.params.id);
      const memories = await readMemories(db, agentId, request.query);
      return { data: memories.map(memoryView), total: memories.length };
    },
  );

  app.post(
    MEMORY,
    {
      schema: {
        summary: 'Add a memory to an agent',
        tags: ['memory'],
        params: idParams,
        body: createMemorySchema,
        response: { 201: memorySchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const agentId = await requireAgent(request.params.id);
      const body = request.body;
      const memory = await insertMemory(db, { agent_id: agentId, ...body, type: body.type ?? null });
      return reply.code(201).send(memoryView(memory));
    },
  );

  app.patch(
    `${MEMORY}/:mid`,
    {
      schema: {
        summary: 'Update a memory (incl. disabled)',
        tags: ['memory'],
        params: memoryParams,
        body: patchMemorySchema,
        response: { 200: memorySchema, ...errorResponses },
      },
    },
    async (request) => {
      const agentId = await requireAgent(request.params.id);
      const memory = await updateMemory(db, agentId, request.params.mid, request.body);
      if (!memory) throw notFound('memory', request.params.mid);
      return memoryView(memory);
    },
  );

  app.delete(
    `${MEMORY}/:mid`,
    {
      schema: {
        summary: 'Delete a memory',
        tags: ['memory'],
        params: memoryParams,
        response: { 204: z.null().describe('deleted'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const agentId = await requireAgent(request.params.id);
      if (!(await deleteMemory(db, agentId, request.params.mid)))
        throw notFound('memory', request.params.mid);
      return reply.code(204).send(null);
    },
  );
};
