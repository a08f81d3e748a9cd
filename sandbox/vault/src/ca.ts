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
import { generateKeyPairSync, randomBytes } from 'node:crypto';
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

function generateRsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
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
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + CA_VALIDITY_YEARS * 365 * 24 * 60 * 60 * 1000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'LAP' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
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
    const keys = generateRsaKeyPair();
    this.leafKeyPem = keys.privateKeyPem;
    this.leafPublicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  }

  /** The certificate for `host` (a DNS name or an IP address), issued on first use. */
  certificateFor(host: string): IssuedCertificate {
    const name = host.toLowerCase();
    let issued = this.cache.get(name);
    if (!issued) {
      issued = { certPem: this.sign(name), keyPem: this.leafKeyPem };
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
