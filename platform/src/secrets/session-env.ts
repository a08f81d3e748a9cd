/**
 * A session's own env vars on their way from the web service to the worker that brings the
 * session up: sealed with the SecretStore for exactly that session (KMS encryption context
 * `{ purpose: "session_env_vars", session_id }` on AWS, the one the web role may encrypt
 * with and the worker role decrypt with), carried in the private call and stored nowhere.
 */
import type { EnvVarHosts } from '../validation/env-var-hosts';
import type { SecretContext, SecretStore } from './secret-store';

/** A session's own env vars and their bindings (`env_var_hosts` of the create request). */
export interface SessionEnv {
  values: Record<string, string>;
  bindings: EnvVarHosts;
}

function context(sessionId: string): SecretContext {
  return { purpose: 'session_env_vars', session_id: sessionId };
}

export function sealSessionEnv(store: SecretStore, sessionId: string, env: SessionEnv): Promise<string> {
  return store.encrypt(JSON.stringify({ values: env.values, bindings: env.bindings }), context(sessionId));
}

/** Throws when the blob was sealed for another session, with another key, or was altered. */
export async function unsealSessionEnv(
  store: SecretStore,
  sessionId: string,
  sealed: string,
): Promise<SessionEnv> {
  const parsed = JSON.parse(await store.decrypt(sealed, context(sessionId))) as Partial<SessionEnv>;
  if (typeof parsed.values !== 'object' || parsed.values === null || typeof parsed.bindings !== 'object')
    throw new Error('sealed session env vars have an unexpected shape');
  return { values: parsed.values, bindings: parsed.bindings ?? {} };
}
