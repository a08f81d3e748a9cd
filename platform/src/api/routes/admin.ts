import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readPlatformStats, SESSION_STATUSES, WARM_STATUSES } from '../../db/stats';
import { errorResponses } from '../../validation/common';
import type { RouteOptions } from '../deps';

const counts = <K extends string>(keys: readonly K[]) =>
  z.object(Object.fromEntries(keys.map((k) => [k, z.number()])) as Record<K, z.ZodNumber>);

const statsSchema = z.object({
  sessions: counts(SESSION_STATUSES).extend({ total: z.number() }),
  warm_pool: counts(WARM_STATUSES).extend({ by_agent: z.record(z.string(), counts(WARM_STATUSES)) }),
});

export const adminRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { deps }) => {
  app.get(
    '/admin/stats',
    {
      schema: {
        summary: 'Sessions by status and warm pool counts (overall and by agent)',
        tags: ['admin'],
        response: { 200: statsSchema, ...errorResponses },
      },
    },
    async () => readPlatformStats(deps.db),
  );
};
