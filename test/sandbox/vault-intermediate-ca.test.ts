/**
 * A local sandbox's vault signs with a CA of its own sandbox (issueIntermediateCa), never
 * with the deployment CA's key. Checked as a client in the sandbox sees it: a real TLS
 * handshake that trusts only the deployment CA accepts the vault's leaves (the vault sends
 * the intermediate along), and the intermediate cannot mint another CA that clients accept.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import {
  createCertificateAuthority,
  issueIntermediateCa,
  LeafCertificateIssuer,
  type CertificateAuthority,
} from '../../sandbox/vault/src/ca';

async function handshake(issued: { certPem: string; keyPem: string }, trusted: string): Promise<string> {
  const server = https.createServer({ cert: issued.certPem, key: issued.keyPem }, (_req, res) =>
    res.end('ok'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const req = https.get(
        { host: '127.0.0.1', port, servername: 'api.example.com', path: '/', ca: trusted },
        (res) => {
          res.resume();
          res.on('end', () => resolve(`HTTP ${res.statusCode}`));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    server.close();
  }
}

describe('a per-sandbox intermediate CA', () => {
  const deployment = createCertificateAuthority('test deployment CA');
  let sandboxCa: CertificateAuthority;

  beforeAll(async () => {
    sandboxCa = await issueIntermediateCa(deployment, { commonName: 'LAP sandbox s-1', validityDays: 30 });
  });

  it('has a key of its own, is signed by the deployment CA, and may sign leaves only', () => {
    expect(sandboxCa.keyPem).not.toBe(deployment.keyPem);
    const cert = forge.pki.certificateFromPem(sandboxCa.certPem);
    expect(forge.pki.certificateFromPem(deployment.certPem).verify(cert)).toBe(true);
    const constraints = cert.getExtension('basicConstraints') as { cA: boolean; pathLenConstraint: number };
    expect(constraints).toMatchObject({ cA: true, pathLenConstraint: 0 });
    const days = (cert.validity.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(30);
  });

  it('issues leaves a client trusting only the deployment CA accepts (the chain goes with them)', async () => {
    const leaf = new LeafCertificateIssuer(sandboxCa).certificateFor('api.example.com');
    expect(leaf.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(await handshake(leaf, deployment.certPem)).toBe('HTTP 200');
    // Another deployment's CA does not vouch for it.
    expect(await handshake(leaf, createCertificateAuthority('other').certPem)).toMatch(/CERT|VERIFY|ISSUER/);
  });

  it('cannot mint a CA of its own that clients accept (path length 0)', async () => {
    const nested = await issueIntermediateCa(sandboxCa, { commonName: 'nested', validityDays: 1 });
    const leaf = new LeafCertificateIssuer(nested).certificateFor('api.example.com');
    // The leaf carries only its direct issuer; add the sandbox CA so the whole path is offered.
    const offered = { certPem: leaf.certPem + sandboxCa.certPem, keyPem: leaf.keyPem };
    expect(await handshake(offered, deployment.certPem)).not.toBe('HTTP 200');
  });
});
