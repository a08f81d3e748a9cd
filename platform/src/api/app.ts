import fastifySwagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import {
  createJsonSchemaTransform,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { requireBearer } from './auth';
import { BODY_LIMITS } from './body-limits';
import { drainRequest } from './drain-request';
import { keepRawBody } from './raw-body';
import type { ApiDeps, InternalApiDeps, RouteOptions } from './deps';
import { HttpError } from './errors';
import { fastSerializerCompiler, RequestValidationError, zodValidatorCompiler } from './schema-compilers';
import { adminRoutes } from './routes/admin';
import { agentRoutes } from './routes/agents';
import { internalRoutes } from './routes/internal';
import { memoryRoutes } from './routes/memory';
import { sessionRoutes } from './routes/sessions';
import { skillRoutes } from './routes/skills';
import { ttyRoutes } from './routes/tty';
import { workerCallRoutes } from './routes/worker-calls';
import { routeUpgrades } from './websocket-upgrade';

/** The SDK calls the routes without `/api`; both prefixes serve the same plugins. */
export const API_PREFIXES = ['/api/v1', '/v1'] as const;

/** Routes behind `Authorization: Bearer <MASTER_KEY>`. Add a new route module here. */
const MASTER_KEY_ROUTES: FastifyPluginAsyncZod<RouteOptions>[] = [
  agentRoutes,
  sessionRoutes,
  skillRoutes,
  memoryRoutes,
  adminRoutes,
];

/** The terminal WebSocket: the master key or the session's TTY token (clients that cannot send headers). */
const TERMINAL_ROUTES: FastifyPluginAsyncZod<RouteOptions>[] = [ttyRoutes];

const MAX_URL_IN_MESSAGE = 200;

/**
 * Builds the control-plane HTTP API (ready, not listening yet: call app.listen). The public
 * listener: the master key's routes and the terminal (master key or TTY token). What
 * sandboxes and the web service call lives on the worker's internal listener
 * (buildInternalApp) and answers 404 here.
 */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = await baseApp(deps.log);

  const transform = createJsonSchemaTransform({});
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'LiteLLM Agent Platform API', version: '1.0.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // The /v1 copies are aliases for the SDK; document each route once, under /api/v1.
    transform: (input) => {
      const out = transform(input);
      return input.url.startsWith('/v1/') ? { ...out, schema: { ...out.schema, hide: true } } : out;
    },
  });

  routeUpgrades(app);

  for (const prefix of API_PREFIXES) {
    await app.register(
      async (api) => {
        for (const routes of TERMINAL_ROUTES) await api.register(routes, { deps });
        await api.register(async (authed) => {
          authed.addHook('onRequest', requireBearer(deps.masterKey));
          authed.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
          for (const routes of MASTER_KEY_ROUTES) await authed.register(routes, { deps });
        });
      },
      { prefix },
    );
  }

  await app.ready();
  return app;
}

/**
 * The internal listener (INTERNAL_PORT; worker and `all` roles; loopback in local mode): the
 * sandbox callbacks, authenticated by each sandbox's CALLBACK_TOKEN (routes/internal.ts), and
 * the web -> worker calls, authenticated by a signed call token (routes/worker-calls.ts).
 * Never the master key's routes, never behind the load balancer.
 */
export async function buildInternalApp(deps: InternalApiDeps): Promise<FastifyInstance> {
  const app = await baseApp(deps.log);
  for (const prefix of API_PREFIXES) {
    await app.register(
      async (api) => {
        await api.register(internalRoutes, { deps });
        await api.register(workerCallRoutes, { deps });
      },
      { prefix },
    );
  }
  await app.ready();
  return app;
}

/** What both listeners share: JSON parsing, `{ error }` answers, one log line per request, /healthz. */
async function baseApp(log: FastifyBaseLogger) {
  const app = Fastify({
    loggerInstance: log,
    // One line per request from the onResponse hook below instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMITS.default,
    // Sandbox bring-up and synchronous agent turns are long; the ALB's idle timeout is the real bound.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(fastSerializerCompiler);
  installJsonParser(app);
  installErrorHandling(app);
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  return app;
}

/** JSON bodies, but an empty body (DELETE with a JSON content type) is no body rather than an error. */
function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // The API speaks JSON only: a text/plain body is a 415, not a string the schema then rejects.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    keepRawBody(request, text);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, (err, value) => {
      if (err) {
        done(new HttpError(400, `invalid JSON body: ${err.message}`), undefined);
        return;
      }
      done(null, value);
    });
  });
}

/** Every error, whatever threw it, leaves as `{ "error": "<message>" }` without internals. */
function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler(async (request, reply) => {
    const url =
      request.url.length > MAX_URL_IN_MESSAGE
        ? `${request.url.slice(0, MAX_URL_IN_MESSAGE)}...`
        : request.url;
    return reply.code(404).send({ error: `route ${request.method} ${url} not found` });
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const { status, message } = describeError(err);
    // A refused body may still be on its way: let the client finish sending, so it reads this answer.
    if (status < 500) await drainRequest(request.raw);
    if (status >= 500) {
      // Message and code only: no stack, no request body, no SQL parameters.
      request.log.error({ err: { name: err.name, code: err.code, message: err.message } }, 'request failed');
    }
    return reply.code(status).send({ error: message });
  });
}

function describeError(err: FastifyError): { status: number; message: string } {
  if (err instanceof HttpError || err instanceof RequestValidationError) {
    return { status: err.statusCode, message: err.message };
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 500) return { status: 500, message: 'internal error' };
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'request body too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'unsupported content type: send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'empty JSON body' };
    default:
      return { status: status >= 400 ? status : 400, message: err.message || 'bad request' };
  }
}
