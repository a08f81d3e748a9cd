/**
 * Wires the vault together: the CA-backed leaf issuer, the credential store, the egress
 * policy, the proxy (the native relay process and its control plane) and the admin listener.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { createAdminServer } from './admin-server';
import { LeafCertificateIssuer } from './ca';
import type { VaultConfig } from './config';
import { CredentialStore } from './credentials';
import { EgressPolicy } from './egress-policy';
import { VaultRelay } from './relay';

export interface RunningVault {
  proxyPort: number;
  adminPort: number;
  /** Settles if the proxy's relay process exits; the vault cannot serve without it. */
  relayExited: Promise<number | null>;
  close(): Promise<void>;
}

function listen(server: import('node:net').Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Writes the CA certificate (public) where the harness reads NODE_EXTRA_CA_CERTS from, atomically. */
function publishCaCertificate(file: string, certPem: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(temporary, certPem, { mode: 0o644 });
  fs.renameSync(temporary, file);
}

export async function startVault(config: VaultConfig, logger: Logger): Promise<RunningVault> {
  const issuer = new LeafCertificateIssuer(config.ca);
  const credentials = new CredentialStore(config.deploymentCredentials);
  let policy = new EgressPolicy(config.allowOut, config.denyOut, config.alwaysAllow, config.internalRanges);
  let egressToken: string | undefined;

  const admin = createAdminServer({
    issuer,
    adminToken: config.adminToken,
    envFile: config.envFile,
    credentials,
    // The push's lists are the agent's: they add to the deployment's own env lists.
    onPush: (applied) => {
      policy = new EgressPolicy(
        [...config.allowOut, ...applied.allowOut],
        [...config.denyOut, ...applied.denyOut],
        config.alwaysAllow,
        config.internalRanges,
      );
      egressToken = applied.egressToken;
    },
    logger,
  });

  if (config.caCertOut) publishCaCertificate(config.caCertOut, config.ca.certPem);
  const relay = await VaultRelay.start(
    {
      issuer,
      credentials,
      policy: () => policy,
      egressToken: () => egressToken,
      upstreamCaPem: config.upstreamCaPem,
      logger,
    },
    {
      binary: config.relayPath,
      bindHost: config.proxyBindHost,
      port: config.proxyPort,
      egressGateway: config.egressGateway
        ? { address: config.egressGateway, caPem: config.ca.certPem }
        : undefined,
    },
  );
  const proxyPort = relay.port;
  const adminPort = await listen(admin, config.adminPort, config.adminBindHost);
  logger.info({
    event: 'vault_listening',
    proxy_port: proxyPort,
    admin_port: adminPort,
    deployment_credentials: config.deploymentCredentials.map((credential) => credential.name),
    allow_out: config.allowOut.map((rule) => rule.text),
    deny_out: config.denyOut.map((rule) => rule.text),
    internal: config.internalRanges.map((rule) => rule.text),
    egress_gateway: config.egressGateway ?? null,
  });
  return {
    proxyPort,
    adminPort,
    relayExited: relay.exited,
    close: async () => {
      await relay.close();
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
    },
  };
}
