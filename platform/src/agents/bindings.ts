/**
 * Where each env var's real value may go, resolved in one place for the API (the agent's
 * `unbound_env_vars`, a new session's) and for the vault push: the explicit binding
 * (`env_var_hosts`) if there is one, else the built-in binding of a well-known key
 * (DEFAULT_ENV_VAR_BINDINGS in @lap/sandbox-protocol), else unbound (`hosts: []`: the vault
 * mints a stub it never swaps).
 */
import { DEFAULT_ENV_VAR_BINDINGS, type VaultSecretBinding } from '@lap/sandbox-protocol';
import type { EnvVarBinding, EnvVarHosts } from '../validation/env-var-hosts';

function toVaultBinding(binding: EnvVarBinding): VaultSecretBinding {
  if (Array.isArray(binding)) return { hosts: binding };
  return {
    hosts: binding.hosts,
    ...(binding.headers?.length ? { headers: binding.headers } : {}),
    ...(binding.body ? { body: true } : {}),
  };
}

export function resolveBinding(key: string, explicit: EnvVarHosts | undefined): VaultSecretBinding {
  const own = explicit?.[key];
  if (own !== undefined) return toVaultBinding(own);
  const builtIn = Object.hasOwn(DEFAULT_ENV_VAR_BINDINGS, key) ? DEFAULT_ENV_VAR_BINDINGS[key] : undefined;
  if (builtIn) return { hosts: [...builtIn.hosts], headers: [...builtIn.headers] };
  return { hosts: [] };
}

/** The keys whose values the vault will never swap (neither an explicit nor a built-in binding). */
export function unboundEnvVars(keys: Iterable<string>, explicit: EnvVarHosts | undefined): string[] {
  return [...keys].filter((key) => resolveBinding(key, explicit).hosts.length === 0).sort();
}

/** Stored bindings minus those whose key no longer has a value (removing a secret removes its scope). */
export function keepBindingsOf(bindings: EnvVarHosts, keys: Iterable<string>): EnvVarHosts {
  const present = new Set(keys);
  return Object.fromEntries(Object.entries(bindings).filter(([key]) => present.has(key)));
}
