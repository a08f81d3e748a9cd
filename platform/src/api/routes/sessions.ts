import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RouteOptions } from '../deps';

// Placeholder created by the api engineer so app.ts compiles; the runtime engineer
// owns this file and replaces the body (see ../ROUTES.md).
export const sessionRoutes: FastifyPluginAsyncZod<RouteOptions> = async () => {};
