/** Test PKI: a test CA for the upstream servers (which the vault must verify) and HTTPS servers. */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { createCertificateAuthority, type CertificateAuthority } from '@lap/vault/src/ca';

/** A server certificate for several names (DNS names and IPs) signed by `ca`. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  names: string[],
): { cert: string; key: string } {
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = '01' + Date.now().toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: names[0]! }]);
  cert.setIssuer(forge.pki.certificateFromPem(ca.certPem).subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: names.map((name) =>
        /^[\d.]+$/.test(name) ? { type: 7, ip: name } : { type: 2, value: name },
      ),
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privateKey };
}

export interface TestPki {
  dir: string;
  /** The deployment CA the vault intercepts with (the client trusts it). */
  deploymentCa: CertificateAuthority;
  deploymentCaPath: string;
  deploymentCaKeyPath: string;
  /** The CA of the "internet" servers (the vault trusts it via VAULT_UPSTREAM_CA_PATH). */
  upstreamCa: CertificateAuthority;
  upstreamCaPath: string;
  upstreamServerCert: { cert: string; key: string };
}

export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-vault-test-'));
  const deploymentCa = createCertificateAuthority('test deployment CA');
  const upstreamCa = createCertificateAuthority('test upstream CA');
  // Certificates are public: a vault running as a sandbox user of its own (local mode as root) reads them.
  fs.chmodSync(dir, 0o711);
  const write = (name: string, text: string, mode = 0o644) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode });
    return file;
  };
  return {
    dir,
    deploymentCa,
    deploymentCaPath: write('ca.pem', deploymentCa.certPem),
    deploymentCaKeyPath: write('ca.key', deploymentCa.keyPem, 0o600),
    upstreamCa,
    upstreamCaPath: write('upstream-ca.pem', upstreamCa.certPem),
    upstreamServerCert: issueServerCertificate(upstreamCa, ['localhost', '127.0.0.1', '127.0.0.2']),
  };
}

export interface SeenRequest {
  host: string | undefined;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTPS "internet" server that records what it received; routes are added by the test. */
export async function startRecordingServer(
  tls: { cert: string; key: string },
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => boolean,
  hosts: string[] = ['127.0.0.1', '127.0.0.2'],
): Promise<{ port: number; seen: SeenRequest[]; close: () => Promise<void> }> {
  const seen: SeenRequest[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (handler) {
      const entry: SeenRequest = {
        host: req.headers.host,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: '',
      };
      if (handler(req, res, entry)) {
        seen.push(entry);
        return;
      }
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = {
        host: req.headers.host,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, authorization: req.headers.authorization ?? null }));
    });
  };
  return { ...(await listenOnHosts(tls, listener, hosts)), seen };
}

/**
 * One HTTPS listener on several loopback addresses, the same port on each: distinct
 * destinations for the vault (bindings, egress rules) served by one handler.
 */
export async function listenOnHosts(
  tls: { cert: string; key: string },
  listener: http.RequestListener,
  hosts: string[],
): Promise<{ port: number; close: () => Promise<void> }> {
  const servers = hosts.map(() => https.createServer(tls, listener));
  let port = 0;
  for (const [index, server] of servers.entries()) {
    await new Promise<void>((resolve) => server.listen(port, hosts[index], resolve));
    port = (server.address() as AddressInfo).port;
  }
  return {
    port,
    close: async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
