/**
 * The body of a JSON request as it arrived, kept beside the parsed one: a signed web ->
 * worker call's token covers these exact bytes (routes/worker-calls.ts).
 */
import type { FastifyRequest } from 'fastify';

const rawBodies = new WeakMap<FastifyRequest, string>();

export function keepRawBody(request: FastifyRequest, text: string): void {
  rawBodies.set(request, text);
}

/** The body as received ('' for none). */
export function rawBodyOf(request: FastifyRequest): string {
  return rawBodies.get(request) ?? '';
}
