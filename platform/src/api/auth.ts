import crypto from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { HttpError } from './errors';

// Hashing both sides first gives equal-length buffers, so timingSafeEqual never
// throws and the comparison time does not depend on where the strings differ.
function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** onRequest hook: `Authorization: Bearer <MASTER_KEY>`, compared in constant time. */
export function requireBearer(masterKey: string): onRequestHookHandler {
  const expected = digest(masterKey);
  return async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match) throw new HttpError(401, 'missing bearer token: send Authorization: Bearer <MASTER_KEY>');
    if (!crypto.timingSafeEqual(digest(match[1]), expected)) throw new HttpError(401, 'invalid bearer token');
  };
}
