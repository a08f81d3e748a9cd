/**
 * Errors a route throws on purpose. The app's error handler turns every error into
 * `{ "error": "<message>" }`; only these (and Fastify's own 4xx) keep their message,
 * anything unexpected becomes a 500 "internal error" so no internals leak.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function notFound(kind: string, id: string): HttpError {
  return new HttpError(404, `${kind} '${id}' not found`);
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
