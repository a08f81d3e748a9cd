/**
 * The vault's configuration, read from its container environment with the protocol's schema
 * (vaultContainerEnvSchema in @lap/sandbox-protocol, which the task definition and the launcher
 * write to) plus what only the vault can check (PEM, files, destination rules, the REAL_/HOST_
 * pairs): every bad key is reported together, naming the key and the fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  DEPLOYMENT_CREDENTIAL_ENV,
  ENV_VAR_NAME,
  readEnv,
  vaultContainerEnvSchema,
} from '@lap/sandbox-protocol';
import type { CertificateAuthority } from './ca';
import { parseDestinationRules, type DestinationRule } from './destination-rules';

export interface DeploymentCredential {
  /** Env var name the harness sees (the part after REAL_). */
  name: string;
  value: string;
  hosts: DestinationRule[];
}

export interface VaultConfig {
  proxyPort: number;
  adminPort: number;
  /** The proxy serves only the harness next to it (same network namespace): loopback by default. */
  proxyBindHost: string;
  /** The platform reaches the admin port from outside the sandbox: all interfaces by default. */
  adminBindHost: string;
  /** Where to publish the CA certificate (public) for the harness to trust, if anywhere. */
  caCertOut: string | undefined;
  adminToken: string;
  envFile: string;
  ca: CertificateAuthority;
  /** Extra CAs trusted for upstream TLS besides the system store (private gateways, tests). */
  upstreamCaPem: string | undefined;
  deploymentCredentials: DeploymentCredential[];
  allowOut: DestinationRule[];
  denyOut: DestinationRule[];
  /** Destinations reachable whatever allow_out says (the gateway and the platform). */
  alwaysAllow: DestinationRule[];
  /** EGRESS_INTERNAL_CIDRS: the deployment's own ranges, blocked besides link-local and metadata. */
  internalRanges: DestinationRule[];
  /** VAULT_EGRESS_GATEWAY (`host:port`): every upstream is dialled through the egress gateway. */
  egressGateway: string | undefined;
  logLevel: string;
  /** The native proxy process (sandbox/vault/relay), built by `npm run build:relay`. */
  relayPath: string;
}

/** Where `npm run build:relay` puts the relay; the image sets VAULT_RELAY_PATH instead. */
export const DEFAULT_RELAY_PATH = path.resolve(__dirname, '../relay/bin/vault-relay');

export class VaultConfigError extends Error {
  override readonly name = 'VaultConfigError';
}

/** Reads PEM from the value itself or from the file at `<key>_PATH`; records a problem otherwise. */
function readPem(
  env: NodeJS.ProcessEnv,
  key: 'VAULT_CA_CERT' | 'VAULT_CA_KEY',
  problems: string[],
): string | undefined {
  const inline = env[key];
  const file = env[`${key}_PATH`];
  if (inline && inline.includes('-----BEGIN')) return inline;
  if (inline) {
    problems.push(`${key}: is not PEM; set the PEM text itself or ${key}_PATH to a PEM file`);
    return undefined;
  }
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${key}_PATH: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  }
  problems.push(`${key}: is required; set ${key} (PEM) or ${key}_PATH (a PEM file) to the deployment CA`);
  return undefined;
}

/** Throws one VaultConfigError listing every problem. */
export function loadVaultConfig(env: NodeJS.ProcessEnv): VaultConfig {
  const problems: string[] = [];
  const reading = readEnv(vaultContainerEnvSchema, env);
  if (!reading.ok) problems.push(...reading.problems.map(({ key, message }) => `${key}: ${message}`));
  const certPem = readPem(env, 'VAULT_CA_CERT', problems);
  const keyPem = readPem(env, 'VAULT_CA_KEY', problems);

  let upstreamCaPem: string | undefined;
  if (env.VAULT_UPSTREAM_CA_PATH) {
    try {
      upstreamCaPem = fs.readFileSync(env.VAULT_UPSTREAM_CA_PATH, 'utf8');
    } catch {
      problems.push(`VAULT_UPSTREAM_CA_PATH: cannot read ${env.VAULT_UPSTREAM_CA_PATH}`);
    }
  }

  const deploymentCredentials: DeploymentCredential[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(DEPLOYMENT_CREDENTIAL_ENV.value) || value === undefined) continue;
    const name = key.slice(DEPLOYMENT_CREDENTIAL_ENV.value.length);
    if (!ENV_VAR_NAME.test(name)) {
      problems.push(`${key}: the name after REAL_ must be a valid env var name`);
      continue;
    }
    if (value === '') {
      problems.push(`${key}: is empty; remove it or give the real value`);
      continue;
    }
    const hostList = env[`${DEPLOYMENT_CREDENTIAL_ENV.hosts}${name}`];
    if (!hostList) {
      // A deployment-wide value must never be swapped for an arbitrary host.
      problems.push(
        `HOST_${name}: is required with REAL_${name}: the hosts (comma list) the value may go to`,
      );
      continue;
    }
    try {
      deploymentCredentials.push({ name, value, hosts: parseDestinationRules(hostList.split(',')) });
    } catch (error) {
      problems.push(`HOST_${name}: ${(error as Error).message}`);
    }
  }

  const rules: Record<
    'EGRESS_ALLOW_OUT' | 'EGRESS_DENY_OUT' | 'EGRESS_ALWAYS_ALLOW' | 'EGRESS_INTERNAL_CIDRS',
    DestinationRule[]
  > = {
    EGRESS_ALLOW_OUT: [],
    EGRESS_DENY_OUT: [],
    EGRESS_ALWAYS_ALLOW: [],
    EGRESS_INTERNAL_CIDRS: [],
  };
  // Checked whatever else is wrong, so one run reports every bad key.
  for (const key of Object.keys(rules) as Array<keyof typeof rules>) {
    try {
      rules[key] = parseDestinationRules(
        vaultContainerEnvSchema.shape[key].parse(env[key]?.trim() || undefined),
      );
    } catch (error) {
      problems.push(`${key}: ${(error as Error).message}`);
    }
  }
  const named = rules.EGRESS_INTERNAL_CIDRS.filter((rule) => rule.kind !== 'addresses');
  if (named.length > 0) {
    problems.push(
      `EGRESS_INTERNAL_CIDRS: ${named.map((rule) => `"${rule.text}"`).join(', ')} is not an IP address or CIDR block (e.g. 10.0.0.0/16, the VPC's range)`,
    );
  }

  const relayPath = (reading.ok && reading.data.VAULT_RELAY_PATH) || DEFAULT_RELAY_PATH;
  if (reading.ok && !fs.existsSync(relayPath)) {
    problems.push(
      `VAULT_RELAY_PATH: no vault relay binary at ${relayPath}; ` +
        'build it with `npm run build:relay` (needs Go 1.19+) or point VAULT_RELAY_PATH at one',
    );
  }

  if (problems.length > 0 || !reading.ok || !certPem || !keyPem) {
    throw new VaultConfigError(`invalid vault configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const data = reading.data;
  return {
    proxyPort: data.VAULT_PORT,
    adminPort: data.VAULT_ADMIN_PORT,
    proxyBindHost: data.VAULT_PROXY_BIND_HOST,
    adminBindHost: data.VAULT_ADMIN_BIND_HOST,
    caCertOut: data.VAULT_CA_CERT_OUT,
    adminToken: data.VAULT_ADMIN_TOKEN,
    envFile: data.VAULT_ENV_FILE,
    ca: { certPem, keyPem },
    upstreamCaPem,
    deploymentCredentials,
    allowOut: rules.EGRESS_ALLOW_OUT,
    denyOut: rules.EGRESS_DENY_OUT,
    alwaysAllow: [
      ...rules.EGRESS_ALWAYS_ALLOW,
      ...deploymentCredentials.flatMap((credential) => credential.hosts),
    ],
    internalRanges: rules.EGRESS_INTERNAL_CIDRS,
    egressGateway: data.VAULT_EGRESS_GATEWAY,
    logLevel: data.LOG_LEVEL,
    relayPath,
  };
}
