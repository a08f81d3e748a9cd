/**
 * Tokens between the platform and a sandbox, derived from HARNESS_TOKEN_SIGNING_KEY
 * and the sandbox id, never stored: any platform process can recompute them, and a
 * token for one sandbox says nothing about another.
 *   HARNESS_TOKEN  = HMAC-SHA256(key, "harness:" + sandboxId)   platform -> harness
 *   CALLBACK_TOKEN = HMAC-SHA256(key, "callback:" + sandboxId)  harness -> platform
 * The egress token (enforced egress on AWS) has its own key, EGRESS_TOKEN_KEY, shared with the
 * egress gateway (sandbox/egress-gateway/token.go), and is bound to the task's address too.
 * The TTY token (a session's `tty_token`) is for clients, checked only by the platform's own
 * /sessions/{id}/tty route: the harness never sees it and accepts only HARNESS_TOKEN.
 */
import crypto from 'node:crypto';

function derive(signingKey: string, purpose: 'harness' | 'callback', sandboxId: string): string {
  return crypto.createHmac('sha256', signingKey).update(`${purpose}:${sandboxId}`).digest('hex');
}

export function harnessToken(signingKey: string, sandboxId: string): string {
  return derive(signingKey, 'harness', sandboxId);
}

export function callbackToken(signingKey: string, sandboxId: string): string {
  return derive(signingKey, 'callback', sandboxId);
}

/** Constant-time check of a presented callback token. */
export function isValidCallbackToken(signingKey: string, sandboxId: string, presented: string): boolean {
  const expected = Buffer.from(callbackToken(signingKey, sandboxId), 'utf8');
  const given = Buffer.from(presented, 'utf8');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/**
 * What a sandbox's vault presents to the egress gateway: `<sandboxId>.<hex>`, hex =
 * HMAC-SHA256(EGRESS_TOKEN_KEY, "egress:" + sandboxId + ":" + taskIp). Pushed to the vault
 * only; the gateway accepts it only from taskIp, so it is useless anywhere else.
 */
export function egressToken(key: string, sandboxId: string, taskIp: string): string {
  const mac = crypto.createHmac('sha256', key).update(`egress:${sandboxId}:${taskIp}`).digest('hex');
  return `${sandboxId}.${mac}`;
}

/**
 * How long a TTY token opens a terminal: enough to read the session and connect. Clients that
 * cannot send headers put it in the URL (`?token=`), where access logs keep it; by the time
 * anyone reads those, it is stale. An attached terminal stays open past it.
 */
export const TTY_TOKEN_TTL_MS = 15 * 60_000;

function ttyMac(signingKey: string, sessionId: string, expires: string): string {
  return crypto.createHmac('sha256', signingKey).update(`tty:${sessionId}:${expires}`).digest('hex');
}

/**
 * A session's TTY token: `<expiry, unix seconds>.<hex>`, hex = HMAC-SHA256(key, "tty:" +
 * sessionId + ":" + expiry). It opens that session's terminal through the platform until it
 * expires, and nothing else: not another session, not the API, not the harness.
 */
export function ttyToken(signingKey: string, sessionId: string, now = Date.now()): string {
  const expires = String(Math.ceil((now + TTY_TOKEN_TTL_MS) / 1000));
  return `${expires}.${ttyMac(signingKey, sessionId, expires)}`;
}

/** Constant-time check of a presented TTY token for this session, expiry included. */
export function isValidTtyToken(
  signingKey: string,
  sessionId: string,
  presented: string,
  now = Date.now(),
): boolean {
  const match = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(presented);
  if (!match || Number(match[1]) * 1000 < now) return false;
  const expected = Buffer.from(ttyMac(signingKey, sessionId, match[1]), 'utf8');
  return crypto.timingSafeEqual(Buffer.from(match[2], 'utf8'), expected);
}

/** The one-time vault admin token: random, given only to the vault container and the pushing worker. */
export function newVaultAdminToken(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** The sandbox id a session's tokens derive from: its warm sandbox's when it claimed one. */
export function sandboxIdOf(session: { id: string; warm_sandbox_id: string | null }): string {
  return session.warm_sandbox_id ?? session.id;
}
