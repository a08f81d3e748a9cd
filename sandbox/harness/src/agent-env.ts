/**
 * The environment the agent's processes (opencode, the SDK's CLI, the TUI, pip, git) get:
 * the container basics, the proxy and CA settings every tool reads under its own name,
 * the reference's variables, and the vault's stubs. Never the harness's own tokens,
 * never GIT_TOKEN after the clone (clone-and-wipe).
 */
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import type { HarnessConfig } from './config';

const PASSED_THROUGH = [
  'PATH',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'TERM',
  'USER',
  'SHELL',
  'PIP_BREAK_SYSTEM_PACKAGES',
];

/** Proxy and trust settings, under every spelling the common tools read. */
export function egressEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  const proxy = { https: env.HTTPS_PROXY ?? env.https_proxy, http: env.HTTP_PROXY ?? env.http_proxy };
  const noProxy = env.NO_PROXY ?? env.no_proxy;
  if (proxy.https) Object.assign(out, { HTTPS_PROXY: proxy.https, https_proxy: proxy.https });
  if (proxy.http) Object.assign(out, { HTTP_PROXY: proxy.http, http_proxy: proxy.http });
  if (noProxy !== undefined) Object.assign(out, { NO_PROXY: noProxy, no_proxy: noProxy });
  const ca = env.NODE_EXTRA_CA_CERTS;
  if (ca) {
    // Node, git (libcurl), pip/requests and OpenSSL-based tools each read their own variable.
    Object.assign(out, {
      NODE_EXTRA_CA_CERTS: ca,
      GIT_SSL_CAINFO: ca,
      REQUESTS_CA_BUNDLE: ca,
      PIP_CERT: ca,
      CURL_CA_BUNDLE: ca,
      SSL_CERT_FILE: env.SSL_CERT_FILE ?? ca,
    });
  }
  return out;
}

export function buildAgentEnv(
  config: HarnessConfig,
  spec: SandboxBootSpec,
  stubs: Record<string, string>,
  processEnv: NodeJS.ProcessEnv,
): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of PASSED_THROUGH) if (processEnv[key] !== undefined) base[key] = processEnv[key]!;
  const { GIT_TOKEN: _wiped, ...agentStubs } = stubs;
  return {
    ...base,
    ...egressEnv(processEnv),
    ...agentStubs,
    HOME: config.HOME,
    WORKSPACE_DIR: config.WORKSPACE_DIR,
    REPO_URL: spec.repo_url ?? '',
    BRANCH: spec.branch,
    LITELLM_API_BASE: spec.litellm_api_base,
    LITELLM_API_KEY: stubs.LITELLM_API_KEY ?? '',
    LITELLM_DEFAULT_MODEL: spec.model,
    AGENT_PROMPT: spec.prompt,
    PORT: String(config.PORT),
    AGENT_REQUIREMENTS: spec.requirements ?? '',
  };
}
