/**
 * The deployment certificate authority and the certificates the vault issues with it.
 *
 * One CA per deployment: the vault signs a leaf per intercepted host with it, and the
 * admin endpoint's certificate for `lap-vault`. The harness trusts it (NODE_EXTRA_CA_CERTS,
 * SSL_CERT_FILE), the platform verifies the admin endpoint against it.
 *
 * Key pairs come from node's crypto (native, fast); node-forge only builds and signs the
 * X.509 structures, which node cannot do.
 */
import { generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

const CA_VALIDITY_YEARS = 10;
/** Leaves are short-lived and re-issued per process, but clocks in sandboxes can drift. */
const LEAF_VALIDITY_DAYS = 30;
const BACKDATE_MS = 24 * 60 * 60 * 1000;

const RSA_KEY_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

function generateRsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', RSA_KEY_OPTIONS);
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** Positive random serial (the high bit cleared so DER does not read it as negative). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** Creates a new self-signed CA (RSA 2048, SHA-256, 10 years). */
export function createCertificateAuthority(commonName = 'LAP sandbox vault CA'): CertificateAuthority {
  const keys = generateRsaKeyPair();
  const certPem = caCertificate(keys.publicKeyPem, {
    commonName,
    validityMs: CA_VALIDITY_YEARS * 365 * 24 * 60 * 60 * 1000,
    signer: { keyPem: keys.privateKeyPem, certPem: null },
  });
  return { certPem, keyPem: keys.privateKeyPem };
}

/**
 * A CA certificate for one sandbox, signed by `parent` (the deployment CA): what a local
 * sandbox's vault signs its leaves with, so the vault never holds the deployment CA's key.
 * It may sign leaves only (path length 0) and expires after `validityDays`. Whatever trusts
 * the deployment CA trusts its leaves, because the vault serves it with them (chain).
 */
export async function issueIntermediateCa(
  parent: CertificateAuthority,
  options: { commonName: string; validityDays: number },
): Promise<CertificateAuthority> {
  const keys = await new Promise<{ publicKey: string; privateKey: string }>((resolve, reject) =>
    // Off the event loop: an RSA key takes tens of milliseconds.
    generateKeyPair('rsa', RSA_KEY_OPTIONS, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve({ publicKey, privateKey }),
    ),
  );
  const certPem = caCertificate(keys.publicKey, {
    commonName: options.commonName,
    validityMs: options.validityDays * 24 * 60 * 60 * 1000,
    signer: parent,
  });
  return { certPem, keyPem: keys.privateKey };
}

/**
 * A CA certificate for `publicKeyPem`, signed with `signer.keyPem`: self-signed (its
 * `certPem` null: the key is the certificate's own) or an intermediate under `signer.certPem`.
 */
function caCertificate(
  publicKeyPem: string,
  options: {
    commonName: string;
    validityMs: number;
    signer: { keyPem: string; certPem: string | null };
  },
): string {
  const { signer } = options;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + options.validityMs);
  const subject = [
    { name: 'commonName', value: options.commonName.slice(0, 64) },
    { name: 'organizationName', value: 'LAP' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(signer.certPem ? forge.pki.certificateFromPem(signer.certPem).subject.attributes : subject);
  cert.setExtensions([
    // An intermediate signs leaves only.
    {
      name: 'basicConstraints',
      cA: true,
      critical: true,
      ...(signer.certPem ? { pathLenConstraint: 0 } : {}),
    },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(signer.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * Issues leaf certificates for TLS server names, signed by the CA. All leaves share one
 * key pair (generated once), so a new host costs one signature, not a key generation;
 * certificates are cached per host for the life of the process.
 */
export class LeafCertificateIssuer {
  private readonly caCert: forge.pki.Certificate;
  private readonly caKey: forge.pki.rsa.PrivateKey;
  private readonly leafKeyPem: string;
  private readonly leafPublicKey: forge.pki.rsa.PublicKey;
  /** An intermediate CA (not self-signed) goes out with every leaf, so clients can chain it to its root. */
  private readonly chainPem: string;
  private readonly cache = new Map<string, IssuedCertificate>();
  private readonly validityDays: number;

  /** `validityDays`: leaves default to 30 days; a long-lived server (the egress gateway) asks for more. */
  constructor(ca: CertificateAuthority, options: { validityDays?: number } = {}) {
    this.validityDays = options.validityDays ?? LEAF_VALIDITY_DAYS;
    try {
      this.caCert = forge.pki.certificateFromPem(ca.certPem);
      this.caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
    } catch (error) {
      throw new Error(
        `the CA certificate or key is not a valid PEM (RSA): ${(error as Error).message}; ` +
          'provide the PEM created by createCertificateAuthority()',
        { cause: error },
      );
    }
    this.chainPem = this.caCert.isIssuer(this.caCert) ? '' : forge.pki.certificateToPem(this.caCert);
    const keys = generateRsaKeyPair();
    this.leafKeyPem = keys.privateKeyPem;
    this.leafPublicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  }

  /** The certificate for `host` (a DNS name or an IP address), issued on first use. */
  certificateFor(host: string): IssuedCertificate {
    const name = host.toLowerCase();
    let issued = this.cache.get(name);
    if (!issued) {
      issued = { certPem: this.sign(name) + this.chainPem, keyPem: this.leafKeyPem };
      this.cache.set(name, issued);
    }
    return issued;
  }

  private sign(name: string): string {
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.leafPublicKey;
    cert.serialNumber = randomSerial();
    const now = Date.now();
    cert.validity.notBefore = new Date(now - BACKDATE_MS);
    cert.validity.notAfter = new Date(now + this.validityDays * 24 * 60 * 60 * 1000);
    cert.setSubject([{ name: 'commonName', value: name.slice(0, 64) }]);
    cert.setIssuer(this.caCert.subject.attributes);
    const altName = isIP(name) ? { type: 7, ip: name } : { type: 2, value: name };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
    ]);
    cert.sign(this.caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }
}
