/**
 * The vault admin protocol (platform -> vault): HTTPS on VAULT_ADMIN_PORT with a certificate
 * for VAULT_ADMIN_SERVER_NAME signed by the deployment CA. POST /v1/secrets with
 * `Authorization: Bearer <VAULT_ADMIN_TOKEN>`; the token works once. The vault then mints
 * stubs, writes VAULT_ENV_FILE and so releases the harness. The platform builds the push to
 * the schema's type; the vault validates it with the same schema.
 */
import { z } from 'zod';

export const VAULT_PROXY_PORT = 14322;
export const VAULT_ADMIN_PORT = 14323;
/** TLS server name the vault's admin certificate is issued for (verified against the deployment CA). */
export const VAULT_ADMIN_SERVER_NAME = 'lap-vault';

/** Response header on a request blocked by the egress policy. */
export const VAULT_EGRESS_POLICY_HEADER = 'x-lap-egress-policy';
/** Request headers every bound value may be swapped into (besides its binding's own `headers`). */
export const VAULT_SWAP_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key'] as const;

/** Secret names are env var names: the harness sees each one's stub under it. */
export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An HTTP header name (RFC 9110 token), compared lowercase. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** A list of destination rules (`api.example.com`, `*.example.com`, an IP address or a CIDR block). */
const ruleList = (field: string) =>
  z
    .array(z.string().max(253, `${field} entries must be at most 253 characters`))
    .max(500, `${field} may hold at most 500 entries`);

/**
 * Where one real value may go. The vault swaps a stub for its real value only in request
 * headers (VAULT_SWAP_HEADERS, Basic credentials inside Authorization, plus `headers`) of
 * requests to a destination `hosts` matches; never in URLs or bodies unless `body` is true.
 * `hosts: []` is unbound: the harness gets a stub that is never swapped.
 */
export const vaultSecretBindingSchema = z.strictObject({
  /** Destination rules. Required: an omitted binding must not silently mean anything. */
  hosts: ruleList('hosts'),
  /** Extra request header names (case-insensitive) the value may be swapped into. */
  headers: z
    .array(z.string().regex(HEADER_NAME, 'headers entries must be HTTP header names'))
    .max(20, 'headers may hold at most 20 entries')
    .optional(),
  /** Also swap it in the URL and text bodies of requests to `hosts` (an echoing host then sees it). */
  body: z.boolean().optional(),
});
export type VaultSecretBinding = z.infer<typeof vaultSecretBindingSchema>;

export const vaultSecretsPushSchema = z.strictObject({
  /** Real values by env var name: the agent's and the session's (session wins on a clash). */
  secrets: z.record(
    z
      .string()
      .regex(
        ENV_VAR_NAME,
        'secret names must be env var names (letters, digits, _; not starting with a digit)',
      ),
    z.strictObject({
      value: z.string().min(1, 'value must not be empty').max(65536, 'value must be at most 64 KiB'),
      ...vaultSecretBindingSchema.shape,
    }),
  ),
  allow_out: ruleList('allow_out').optional(),
  deny_out: ruleList('deny_out').optional(),
  /**
   * With an egress gateway (AWS `sandbox.egress: "enforced"`): the token the vault presents
   * on every CONNECT to it, `<sandbox_id>.<hex>` (see EGRESS_GATEWAY_SERVER_NAME).
   */
  egress_token: z
    .string()
    .regex(/^[\x21-\x7e]{1,512}$/, 'egress_token must be printable ASCII')
    .optional(),
});
export type VaultSecretsPush = z.infer<typeof vaultSecretsPushSchema>;

export const vaultSecretsPushResultSchema = z.object({
  /** Stub by env var name, as written to VAULT_ENV_FILE (e.g. stub_github_token_a8f1c2). */
  stubs: z.record(z.string(), z.string()),
});
export type VaultSecretsPushResult = z.infer<typeof vaultSecretsPushResultSchema>;

/**
 * Built-in bindings for well-known env var names, used when the agent (or the session) gives
 * no `env_var_hosts` entry for the key. Each names the API hosts the key is for and the header
 * the key travels in (that provider's documented authentication). A key neither bound
 * explicitly nor listed here is unbound: its stub is never swapped.
 */
export const DEFAULT_ENV_VAR_BINDINGS: Readonly<
  Record<string, Readonly<Required<Omit<VaultSecretBinding, 'body'>>>>
> = {
  GITHUB_TOKEN: { hosts: ['github.com', 'api.github.com'], headers: ['authorization'] },
  GH_TOKEN: { hosts: ['github.com', 'api.github.com'], headers: ['authorization'] },
  GITLAB_TOKEN: { hosts: ['gitlab.com'], headers: ['private-token', 'authorization'] },
  ANTHROPIC_API_KEY: { hosts: ['api.anthropic.com'], headers: ['x-api-key'] },
  OPENAI_API_KEY: { hosts: ['api.openai.com'], headers: ['authorization'] },
  GEMINI_API_KEY: { hosts: ['generativelanguage.googleapis.com'], headers: ['x-goog-api-key'] },
  MISTRAL_API_KEY: { hosts: ['api.mistral.ai'], headers: ['authorization'] },
  GROQ_API_KEY: { hosts: ['api.groq.com'], headers: ['authorization'] },
  OPENROUTER_API_KEY: { hosts: ['openrouter.ai'], headers: ['authorization'] },
  HF_TOKEN: { hosts: ['huggingface.co'], headers: ['authorization'] },
  NPM_TOKEN: { hosts: ['registry.npmjs.org'], headers: ['authorization'] },
};
