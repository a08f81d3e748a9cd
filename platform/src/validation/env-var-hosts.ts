/**
 * Credential bindings on the API: `env_var_hosts` maps an env var's key to where the vault may
 * swap its real value in. Either a list of host patterns, or an object that also names extra
 * request headers or allows swapping into URLs and bodies:
 *
 *   { "GITHUB_TOKEN": ["github.com", "api.github.com"],
 *     "INTERNAL_KEY": { "hosts": ["*.corp.example.com"], "headers": ["private-token"] },
 *     "LEGACY_KEY":   { "hosts": ["legacy.example.com"], "body": true },
 *     "NOT_A_CREDENTIAL": [] }
 *
 * Host patterns are the vault's own destination rules (domain, `*.domain`, IP, CIDR), parsed
 * by the vault's parser so the API accepts exactly what the vault enforces. `[]` unbinds a
 * key (overriding a built-in binding). Keys must be keys of the env_vars of the same scope
 * (the agent's, or the session's): a binding without a value would bind nothing.
 */
import { parseDestinationRule } from '@lap/vault/src/destination-rules';
import { z } from 'zod';
import { MAX_ENV_VARS } from './env-vars';

const MAX_HOSTS_PER_KEY = 50;
const MAX_HEADERS_PER_KEY = 20;
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

const hostPatterns = z
  .array(
    z
      .string({ error: 'must be a string' })
      .max(253, 'at most 253 characters')
      .superRefine((value, ctx) => {
        try {
          parseDestinationRule(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
  )
  .max(MAX_HOSTS_PER_KEY, `at most ${MAX_HOSTS_PER_KEY} hosts per key`);

const bindingObject = z.strictObject({
  hosts: hostPatterns,
  headers: z
    .array(z.string().regex(HEADER_NAME, 'must be an HTTP header name'))
    .max(MAX_HEADERS_PER_KEY, `at most ${MAX_HEADERS_PER_KEY} headers`)
    .optional(),
  body: z.boolean({ error: 'must be true or false' }).optional(),
});

export const envVarBindingSchema = z.union([hostPatterns, bindingObject], {
  error: 'must be a list of host patterns or { "hosts": [...], "headers"?: [...], "body"?: boolean }',
});
export type EnvVarBinding = z.infer<typeof envVarBindingSchema>;

export const envVarHostsSchema = z.record(z.string(), envVarBindingSchema).superRefine((bindings, ctx) => {
  const keys = Object.keys(bindings);
  if (keys.length > MAX_ENV_VARS) {
    ctx.addIssue({ code: 'custom', message: `at most ${MAX_ENV_VARS} keys (got ${keys.length})` });
  }
  for (const key of keys) {
    if (!KEY_PATTERN.test(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `key must match ${KEY_PATTERN.source}` });
    }
  }
});
export type EnvVarHosts = z.infer<typeof envVarHostsSchema>;

/**
 * The problem with bindings whose key is not a key of `envVarKeys` (the env vars of the same
 * scope), naming the first such key; undefined when every key has a value.
 */
export function bindingKeyProblem(bindings: EnvVarHosts, envVarKeys: Iterable<string>): string | undefined {
  const keys = new Set(envVarKeys);
  const orphan = Object.keys(bindings).find((key) => !keys.has(key));
  if (orphan === undefined) return undefined;
  return `env_var_hosts.${orphan}: there is no env var ${orphan} to bind (env_var_hosts keys must be keys of env_vars)`;
}
