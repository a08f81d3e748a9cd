import type { SecretStore } from '../secrets/secret-store';
import type { EnvVars } from '../validation/env-vars';

// Bound into every ciphertext: one agent's ciphertext never decrypts as another's,
// nor as another kind of secret of the same agent.
function context(agentId: string, purpose: 'env_vars' | 'litellm_api_key') {
  return { agent_id: agentId, purpose };
}

/** The agent's env vars as stored: keys in clear, the whole map as one ciphertext (null when empty). */
export async function sealAgentEnvVars(
  store: SecretStore,
  agentId: string,
  envVars: EnvVars,
): Promise<{ env_var_keys: string[]; env_vars_ciphertext: string | null }> {
  const keys = Object.keys(envVars).sort();
  if (keys.length === 0) return { env_var_keys: [], env_vars_ciphertext: null };
  return {
    env_var_keys: keys,
    env_vars_ciphertext: await store.encrypt(JSON.stringify(envVars), context(agentId, 'env_vars')),
  };
}

/** The agent's real env var values (for the vault push only; never log or return them). */
export async function openAgentEnvVars(
  store: SecretStore,
  agent: { id: string; env_vars_ciphertext: string | null },
): Promise<EnvVars> {
  if (!agent.env_vars_ciphertext) return {};
  return JSON.parse(await store.decrypt(agent.env_vars_ciphertext, context(agent.id, 'env_vars'))) as EnvVars;
}

export async function sealLitellmApiKey(store: SecretStore, agentId: string, key: string): Promise<string> {
  return store.encrypt(key, context(agentId, 'litellm_api_key'));
}

/** The agent's own gateway key, or null when it uses the platform's. */
export async function openLitellmApiKey(
  store: SecretStore,
  agent: { id: string; litellm_api_key_ciphertext: string | null },
): Promise<string | null> {
  if (!agent.litellm_api_key_ciphertext) return null;
  return store.decrypt(agent.litellm_api_key_ciphertext, context(agent.id, 'litellm_api_key'));
}
