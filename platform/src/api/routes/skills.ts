import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RouteOptions } from '../deps';

export const skillRoutes: FastifyPluginAsyncZod<RouteOptions> = async () => {};
