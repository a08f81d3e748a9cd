/**
 * Tokens between the platform and a sandbox, derived from HARNESS_TOKEN_SIGNING_KEY
 * and the sandbox id, never stored: any platform process can recompute them, and a
 * token for one sandbox says nothing about another.
 *   HARNESS_TOKEN  = HMAC-SHA256(key, "harness:" + sandboxId)   platform -> harness
 *   CALLBACK_TOKEN = HMAC-SHA256(key, "callback:" + sandboxId)  harness -> platform
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

/** The one-time vault admin token: random, given only to the vault container and the pushing worker. */
export function newVaultAdminToken(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** The sandbox id a session's tokens derive from: its warm sandbox's when it claimed one. */
export function sandboxIdOf(session: { id: string; warm_sandbox_id: string | null }): string {
  return session.warm_sandbox_id ?? session.id;
}
