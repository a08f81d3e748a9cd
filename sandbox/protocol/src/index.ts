/**
 * The contracts between the control plane and what runs inside a sandbox:
 *   - the harness HTTP protocol (platform -> harness, port HARNESS_PORT),
 *   - the platform's internal sandbox routes (harness -> platform: boot spec and phases),
 *   - the vault admin protocol (platform -> vault, TLS on VAULT_ADMIN_PORT),
 *   - the environment each container of a sandbox receives.
 * Types only and a few constants: both sides import this package.
 * The prose version is docs/sandbox-protocol.md.
 */

export const HARNESS_PORT = 4096;
export const VAULT_PROXY_PORT = 14322;
export const VAULT_ADMIN_PORT = 14323;
/** TLS server name the vault's admin certificate is issued for (verified against the deployment CA). */
export const VAULT_ADMIN_SERVER_NAME = 'lap-vault';

export const HARNESS_IDS = ['opencode', 'claude-agent-sdk', 'claude-code', 'codex'] as const;
export type HarnessId = (typeof HARNESS_IDS)[number];
export const TUI_HARNESS_IDS: readonly HarnessId[] = ['claude-code', 'codex'];

/** Bring-up phases in order. The platform owns the first six, the harness reports the rest. */
export const SESSION_PHASES = [
  'creating_sandbox',
  'pod_pending',
  'pod_running',
  'injecting_files',
  'waiting_harness',
  'harness_ready',
  'cloning_repo',
  'installing_deps',
  'harness_listening',
  'ready',
] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];
export type HarnessReportedPhase = 'cloning_repo' | 'installing_deps' | 'harness_listening';

// ---------------------------------------------------------------------------
// Harness HTTP protocol. Every route but /health needs
// `Authorization: Bearer <HARNESS_TOKEN>`; /tty takes the token as `?token=`.
// ---------------------------------------------------------------------------

export type MessagePart = { type: 'text'; text: string } | { type: string; [key: string]: unknown };

/** POST /turn: one synchronous agent turn. */
export interface TurnRequest {
  parts: MessagePart[];
}
export interface TurnResponse {
  parts: MessagePart[];
}

/**
 * GET /health (no auth). 200 with `ok`, or `starting` while the agent boots or restarts after
 * its process died; 503 with `dead` and `reason` once it died and could not be restarted.
 */
export interface HarnessHealth {
  status: 'ok' | 'starting' | 'dead';
  harness_id: HarnessId;
  supports_tui: boolean;
  /** The conversation the harness drives (opencode: its session id), null until there is one. */
  harness_session_id: string | null;
  /** A turn is running (one sent to opencode through /opencode/* included). */
  busy: boolean;
  /** With `dead`: why (an exit code or signal, never the agent's logs). */
  reason?: string;
}

/** `ALL /opencode/*` (opencode harness only): forwarded to the sandbox's own opencode server. */
export const HARNESS_OPENCODE_PREFIX = '/opencode';

/** GET /events: Server-Sent Events, `event: <type>`, `data: <JSON HarnessEvent>`, `id: <seq>`. */
export type HarnessEvent =
  | { type: 'turn_started'; turn_id: string }
  | { type: 'token'; turn_id: string; text: string }
  | { type: 'tool_call'; turn_id: string; name: string; input?: unknown }
  | { type: 'tool_result'; turn_id: string; name: string; output?: unknown }
  | { type: 'turn_done'; turn_id: string; parts: MessagePart[] }
  | { type: 'error'; turn_id?: string; message: string };

/** POST /abort: stops the turn in flight, if any. 204. */

/** GET /tty (WebSocket, TUI harnesses): binary/text frames are terminal bytes both ways;
 *  a text frame holding JSON `{ "type": "resize", "cols": n, "rows": n }` resizes the PTY. */
export interface TtyResize {
  type: 'resize';
  cols: number;
  rows: number;
}

// ---------------------------------------------------------------------------
// Platform internal sandbox routes (harness -> platform), under
// `${CALLBACK_URL}/api/v1/internal/sandboxes/{SANDBOX_ID}`, with
// `Authorization: Bearer <CALLBACK_TOKEN>`.
// ---------------------------------------------------------------------------

/** GET .../spec: what to set up. Fetched (not passed in env) because it can be
 *  megabytes (files) and ECS limits container overrides to 8 KiB. No real secret
 *  values: env holds stubs only once the vault has minted them. */
export interface SandboxBootSpec {
  sandbox_id: string;
  agent_id: string;
  harness_id: HarnessId;
  model: string;
  /** The system prompt with skill blocks and enabled memories already appended. */
  prompt: string;
  repo_url: string | null;
  branch: string;
  requirements: string | null;
  mcp_servers: string[];
  litellm_api_base: string;
  /** Files to write, including skills as ~/.claude/skills/<slug>/SKILL.md. */
  files: Array<{ path: string; content_base64: string; mode?: number }>;
}

/** POST .../phase */
export interface PhaseReport {
  phase: HarnessReportedPhase | 'failed';
  detail?: string;
  /** Set with phase 'failed'. */
  failure_reason?: string;
}

// ---------------------------------------------------------------------------
// Vault admin protocol (platform -> vault), HTTPS on VAULT_ADMIN_PORT with a
// certificate for VAULT_ADMIN_SERVER_NAME signed by the deployment CA.
// POST /v1/secrets with `Authorization: Bearer <VAULT_ADMIN_TOKEN>`; the token
// works once. The vault then mints stubs, writes VAULT_ENV_FILE and so
// releases the harness.
// ---------------------------------------------------------------------------

/**
 * Where one real value may go. The vault swaps a stub for its real value only in request
 * headers (VAULT_SWAP_HEADERS, Basic credentials inside Authorization, plus `headers`) of
 * requests to a destination `hosts` matches; never in URLs or bodies unless `body` is true.
 * `hosts: []` is unbound: the harness gets a stub that is never swapped.
 */
export interface VaultSecretBinding {
  /** Destination rules: `api.example.com`, `*.example.com`, an IP address or a CIDR block. */
  hosts: string[];
  /** Extra request header names (case-insensitive) the value may be swapped into. */
  headers?: string[];
  /** Also swap it in the URL and text bodies of requests to `hosts` (an echoing host then sees it). */
  body?: boolean;
}

export interface VaultSecretsPush {
  /** Real values by env var name: the agent's and the session's (session wins on a clash). */
  secrets: Record<string, { value: string } & VaultSecretBinding>;
  allow_out?: string[];
  deny_out?: string[];
  /**
   * With an egress gateway (AWS `sandbox.egress: "enforced"`): the token the vault presents
   * on every CONNECT to it, `<sandbox_id>.<hex>` (see EGRESS_GATEWAY_SERVER_NAME).
   */
  egress_token?: string;
}
export interface VaultSecretsPushResult {
  /** Stub by env var name, as written to VAULT_ENV_FILE (e.g. stub_github_token_a8f1c2). */
  stubs: Record<string, string>;
}
/** Response header on a request blocked by the egress policy. */
export const VAULT_EGRESS_POLICY_HEADER = 'x-lap-egress-policy';
/** Request headers every bound value may be swapped into (besides its binding's own `headers`). */
export const VAULT_SWAP_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key'] as const;

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

// ---------------------------------------------------------------------------
// Egress gateway (AWS `sandbox.egress: "enforced"`): sandboxes have no route out; the vault
// reaches upstreams only through this service: TLS to EGRESS_GATEWAY_PORT (certificate for
// EGRESS_GATEWAY_SERVER_NAME, signed by the deployment CA), then `CONNECT <ip>:<port>` with
// `Proxy-Authorization: Bearer <sandbox_id>.<hex>`, hex = HMAC-SHA256(EGRESS_TOKEN_KEY,
// "egress:" + sandbox_id + ":" + the connection's source IP).
// ---------------------------------------------------------------------------

export const EGRESS_GATEWAY_PORT = 8443;
export const EGRESS_GATEWAY_HEALTH_PORT = 8080;
export const EGRESS_GATEWAY_SERVER_NAME = 'lap-egress-gateway';

// ---------------------------------------------------------------------------
// Environment of each sandbox container (set by the launcher).
// ---------------------------------------------------------------------------

/** Harness container. Real secrets never appear here. */
export interface HarnessContainerEnv {
  SANDBOX_ID: string;
  HARNESS_ID: HarnessId;
  PORT: string;
  HARNESS_TOKEN: string;
  CALLBACK_URL: string;
  CALLBACK_TOKEN: string;
  /** File the vault writes `KEY=stub` lines into; the boot sequence waits for it. */
  VAULT_ENV_FILE: string;
  HTTPS_PROXY: string;
  HTTP_PROXY: string;
  NO_PROXY: string;
  /** PEM of the deployment CA, trusted for the vault's TLS interception. */
  NODE_EXTRA_CA_CERTS: string;
  SSL_CERT_FILE?: string;
}

/** Vault container: REAL_<KEY> / HOST_<KEY> pairs for deployment-wide values
 *  (e.g. REAL_LITELLM_API_KEY + HOST_LITELLM_API_KEY=gateway host), plus these. */
export interface VaultContainerEnv {
  VAULT_PORT: string;
  VAULT_ADMIN_PORT: string;
  VAULT_ADMIN_TOKEN: string;
  VAULT_ENV_FILE: string;
  /** PEM contents (ECS secrets) or paths (local mode) of the deployment CA. */
  VAULT_CA_CERT?: string;
  VAULT_CA_KEY?: string;
  VAULT_CA_CERT_PATH?: string;
  VAULT_CA_KEY_PATH?: string;
  EGRESS_ALLOW_OUT?: string;
  EGRESS_DENY_OUT?: string;
  /** Comma list of CIDRs the sandbox must not reach (the VPC's own ranges), besides link-local and metadata. */
  EGRESS_INTERNAL_CIDRS?: string;
  /** `<host>:8443`: dial every upstream through the egress gateway (enforced egress). */
  VAULT_EGRESS_GATEWAY?: string;
}

// ---------------------------------------------------------------------------
// Additions by the sandbox (additive).
// ---------------------------------------------------------------------------

/** Env var overriding the command a TUI harness runs in its PTY (tests, custom images). */
export const HARNESS_TTY_COMMAND_ENV = 'HARNESS_TTY_COMMAND';
/** Vault env var: comma list of destinations always reachable (the gateway and platform hosts). */
export const VAULT_ALWAYS_ALLOW_ENV = 'EGRESS_ALWAYS_ALLOW';
/** Vault env var: extra PEM file of CAs the vault trusts for upstream TLS (private gateways, tests). */
export const VAULT_UPSTREAM_CA_PATH_ENV = 'VAULT_UPSTREAM_CA_PATH';
