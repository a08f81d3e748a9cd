/**
 * What the worker pushes to a sandbox's vault: the agent's env var values (decrypted here,
 * in memory, just before the push) and the session's (they win on a clash), each with its
 * binding resolved (explicit env_var_hosts > built-in > unbound, agents/bindings.ts); the
 * agent's own gateway key bound to its gateway host; the egress lists; and, with an egress
 * gateway, the sandbox's egress token.
 */
import type { VaultSecretsPush } from '@lap/sandbox-protocol';
import { resolveBinding } from '../agents/bindings';
import { openAgentEnvVars, openLitellmApiKey } from '../agents/secrets';
import type { AgentRecord } from '../db/agents';
import { egressToken } from '../sandbox/tokens';
import type { SecretStore } from '../secrets/secret-store';
import type { SessionEnv } from './session-env-stash';

/** With EGRESS_TOKEN_KEY (enforced egress): which sandbox, and its vault's admin URL (the task's address). */
export interface EgressTokenInput {
  tokenKey: string | undefined;
  sandboxId: string;
  vaultAdminUrl: string;
}

export async function buildVaultPush(
  secretStore: SecretStore,
  agent: AgentRecord,
  sessionEnv: SessionEnv | undefined,
  egress?: EgressTokenInput,
): Promise<VaultSecretsPush> {
  const envVars = await openAgentEnvVars(secretStore, agent);
  const litellmApiKey = await openLitellmApiKey(secretStore, agent);
  // A session value without its own binding takes the agent's binding of the same key.
  const bindings = { ...agent.env_var_hosts, ...sessionEnv?.bindings };
  const secrets: VaultSecretsPush['secrets'] = {};
  for (const [key, value] of Object.entries({ ...envVars, ...sessionEnv?.values })) {
    secrets[key] = { value, ...resolveBinding(key, bindings) };
  }
  if (litellmApiKey && agent.litellm_api_base) {
    secrets.LITELLM_API_KEY = { value: litellmApiKey, hosts: [new URL(agent.litellm_api_base).hostname] };
  }
  return {
    secrets,
    allow_out: agent.allow_out,
    deny_out: agent.deny_out,
    ...(egress?.tokenKey
      ? {
          // The gateway sees the vault's connections come from the task's own address.
          egress_token: egressToken(
            egress.tokenKey,
            egress.sandboxId,
            new URL(egress.vaultAdminUrl).hostname.replace(/^\[|\]$/g, ''),
          ),
        }
      : {}),
  };
}
