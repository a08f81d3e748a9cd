import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RouteOptions } from '../deps';

export const adminRoutes: FastifyPluginAsyncZod<RouteOptions> = async () => {};
