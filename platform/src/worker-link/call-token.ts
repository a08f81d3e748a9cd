/**
 * How the worker knows a call on its internal listener comes from a platform process (the
 * web service) and not from a sandbox, which can reach that listener too (its callbacks):
 *
 *   Authorization: Bearer v1.<unix ms>.<hex>
 *   hex = HMAC-SHA256(HARNESS_TOKEN_SIGNING_KEY,
 *                     "worker-call:v1:" + ms + ":" + METHOD + " " + path + ":" + sha256hex(body))
 *
 * Web and worker already share the signing key; the purpose prefix keeps these tokens apart
 * from the harness and callback tokens derived from the same key (sandbox/tokens.ts), which a
 * sandbox holds. A token is bound to its request (method, path with query, body) and lives
 * `WORKER_CALL_MAX_SKEW_MS`: one seen on the wire cannot be replayed for another request or
 * later. Why not mTLS: it would add a CA and per-service certificates to issue and rotate,
 * for a channel whose only secret payload (the session's env vars) is sealed with KMS anyway.
 */
import crypto from 'node:crypto';

/** How far a call's timestamp may be from the receiver's clock (both ways). */
export const WORKER_CALL_MAX_SKEW_MS = 60_000;

export interface WorkerCall {
  method: string;
  /** Path and query, as sent (`/api/v1/internal/worker/...`). */
  path: string;
  /** The raw body ('' for none). */
  body: string;
}

function mac(signingKey: string, at: number, call: WorkerCall): string {
  const bodyHash = crypto.createHash('sha256').update(call.body, 'utf8').digest('hex');
  return crypto
    .createHmac('sha256', signingKey)
    .update(`worker-call:v1:${at}:${call.method.toUpperCase()} ${call.path}:${bodyHash}`)
    .digest('hex');
}

/** The bearer token of one call (without `Bearer `). */
export function signWorkerCall(signingKey: string, call: WorkerCall, now = Date.now()): string {
  return `v1.${now}.${mac(signingKey, now, call)}`;
}

/** Why a presented token is refused, or null when it is good for this call now. */
export function workerCallProblem(
  signingKey: string,
  presented: string | undefined,
  call: WorkerCall,
  now = Date.now(),
): string | null {
  const match = presented ? /^v1\.(\d{1,15})\.([0-9a-f]{64})$/.exec(presented) : null;
  if (!match) return 'missing or malformed worker call token';
  const at = Number(match[1]);
  if (Math.abs(now - at) > WORKER_CALL_MAX_SKEW_MS) return 'worker call token expired (check the clocks)';
  const expected = Buffer.from(mac(signingKey, at, call), 'hex');
  const given = Buffer.from(match[2]!, 'hex');
  return crypto.timingSafeEqual(given, expected) ? null : 'invalid worker call token';
}
