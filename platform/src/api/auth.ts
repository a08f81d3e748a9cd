import crypto from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { HttpError } from './errors';

// Hashing both sides first gives equal-length buffers, so timingSafeEqual never
// throws and the comparison time does not depend on where the strings differ.
function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match ? match[1] : null;
}

/** A constant-time test of a presented token against the master key. */
export function masterKeyCheck(masterKey: string): (presented: string) => boolean {
  const expected = digest(masterKey);
  return (presented) => crypto.timingSafeEqual(digest(presented), expected);
}

/** onRequest hook: `Authorization: Bearer <MASTER_KEY>`, compared in constant time. */
export function requireBearer(masterKey: string): onRequestHookHandler {
  const isMasterKey = masterKeyCheck(masterKey);
  return async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (token === null)
      throw new HttpError(401, 'missing bearer token: send Authorization: Bearer <MASTER_KEY>');
    if (!isMasterKey(token)) throw new HttpError(401, 'invalid bearer token');
  };
}
