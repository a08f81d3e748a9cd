/** Runs the egress gateway binary (sandbox/egress-gateway, built by `npm run build:egress-gateway`). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LeafCertificateIssuer } from '@lap/vault/src/ca';
import { EGRESS_GATEWAY_SERVER_NAME } from '@lap/sandbox-protocol';
import { REPO_ROOT } from './processes';
import type { TestPki } from './tls';

export const EGRESS_GATEWAY_BINARY = path.join(REPO_ROOT, 'sandbox/egress-gateway/bin/egress-gateway');

export interface EgressGatewayProcess {
  child: ChildProcess;
  /** host:port of the TLS listener, as VAULT_EGRESS_GATEWAY takes it. */
  address: string;
  healthUrl: string;
  /** The JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the gateway on loopback with a certificate for lap-egress-gateway from the test's
 * deployment CA (as the vault-CA custom resource issues it on AWS). `env` adds the rest
 * (EGRESS_TOKEN_KEY, EGRESS_GATEWAY_ALLOWED_PORTS, EGRESS_GATEWAY_ALLOW_CIDRS, ...).
 */
export async function startEgressGateway(
  pki: TestPki,
  env: Record<string, string>,
): Promise<EgressGatewayProcess> {
  if (!fs.existsSync(EGRESS_GATEWAY_BINARY)) {
    throw new Error(`no egress gateway at ${EGRESS_GATEWAY_BINARY}: run \`npm run build:egress-gateway\``);
  }
  const certificate = new LeafCertificateIssuer(pki.deploymentCa).certificateFor(EGRESS_GATEWAY_SERVER_NAME);
  const child = spawn(EGRESS_GATEWAY_BINARY, [], {
    env: {
      EGRESS_GATEWAY_TLS_CERT: certificate.certPem,
      EGRESS_GATEWAY_TLS_KEY: certificate.keyPem,
      EGRESS_GATEWAY_LISTEN: '127.0.0.1:0',
      EGRESS_GATEWAY_HEALTH_LISTEN: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logs = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listening = logs().find((line) => line.event === 'listening');
    if (listening) {
      return {
        child,
        address: String(listening.address),
        healthUrl: `http://${String(listening.health_address)}/healthz`,
        logs,
        output: () => output,
        async stop() {
          if (child.exitCode !== null) return;
          // Open tunnels get a grace period on SIGTERM; a test does not wait for it.
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
          await exited;
          clearTimeout(timer);
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the egress gateway did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
