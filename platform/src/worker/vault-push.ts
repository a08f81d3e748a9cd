/**
 * What the worker pushes to a sandbox's vault: the agent's env var values
 * (decrypted here, in memory, just before the push), the session's (they win on a
 * clash), the agent's own gateway key bound to its gateway host, and the egress lists.
 */
import type { VaultSecretsPush } from '@lap/sandbox-protocol';
import { openAgentEnvVars, openLitellmApiKey } from '../agents/secrets';
import type { AgentRecord } from '../db/agents';
import type { SecretStore } from '../secrets/secret-store';

export async function buildVaultPush(
  secretStore: SecretStore,
  agent: AgentRecord,
  sessionEnv: Record<string, string> | undefined,
): Promise<VaultSecretsPush> {
  const envVars = await openAgentEnvVars(secretStore, agent);
  const litellmApiKey = await openLitellmApiKey(secretStore, agent);
  const secrets: VaultSecretsPush['secrets'] = {};
  for (const [key, value] of Object.entries({ ...envVars, ...sessionEnv })) secrets[key] = { value };
  if (litellmApiKey && agent.litellm_api_base) {
    secrets.LITELLM_API_KEY = { value: litellmApiKey, hosts: [new URL(agent.litellm_api_base).hostname] };
  }
  return { secrets, allow_out: agent.allow_out, deny_out: agent.deny_out };
}
