/**
 * Deploy-time custom resource (CDK provider framework): creates the deployment CA into two
 * Secrets Manager secrets created empty by the template (certificate, private key) and, with
 * `sandbox.egress` "enforced", the egress gateway's server certificate and key (server name
 * `lap-egress-gateway`, signed by that CA) into two more.
 *
 * Create and Update converge on the same state, so replaced (empty) secrets are filled again:
 *   - the CA is kept when both its secrets hold a value (every running sandbox trusts it), and
 *     created otherwise (key first: a certificate is never published without its key);
 *   - the gateway certificate is kept when it is signed by the current CA and valid for more
 *     than GATEWAY_RENEW_BEFORE_DAYS, and issued again otherwise.
 * Delete changes nothing (the secrets belong to CloudFormation). No key or certificate is ever
 * returned as response data or logged.
 */
import { X509Certificate } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  LeafCertificateIssuer,
  createCertificateAuthority,
  type CertificateAuthority,
} from '../../sandbox/vault/src/ca';
import { z } from 'zod';

const required = z
  .string({ error: 'CertificateSecretArn and PrivateKeySecretArn are required properties' })
  .min(1, 'CertificateSecretArn and PrivateKeySecretArn are required properties');

/** The custom resource's properties: what lib/constructs/vault-certificate-authority.ts writes. */
export const vaultCaPropertiesSchema = z
  .object({
    CertificateSecretArn: required,
    PrivateKeySecretArn: required,
    CommonName: z.string().optional(),
    /** The egress gateway's certificate (`sandbox.egress` "enforced"): all three or none. */
    GatewayCertificateSecretArn: z.string().optional(),
    GatewayPrivateKeySecretArn: z.string().optional(),
    GatewayServerName: z.string().optional(),
  })
  .refine(
    (p) =>
      new Set([p.GatewayCertificateSecretArn, p.GatewayPrivateKeySecretArn, p.GatewayServerName].map(Boolean))
        .size === 1,
    'GatewayCertificateSecretArn, GatewayPrivateKeySecretArn and GatewayServerName go together: set all three or none',
  );
export type VaultCaProperties = z.input<typeof vaultCaPropertiesSchema>;

export interface VaultCaEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: VaultCaProperties & { ServiceToken?: string };
}

export interface VaultCaResult {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/** The gateway's certificate lives as long as a CA would; it is issued again when this close to its end. */
export const GATEWAY_VALIDITY_DAYS = 3650;
export const GATEWAY_RENEW_BEFORE_DAYS = 365;
const DAY_MS = 24 * 60 * 60 * 1000;

function log(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level: 'info', msg, ...fields }));
}

async function hasValue(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return Object.values(described.VersionIdsToStages ?? {}).some((stages) => stages.includes('AWSCURRENT'));
}

async function valueOf(client: SecretsManagerClient, secretId: string): Promise<string> {
  return (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '';
}

async function put(client: SecretsManagerClient, secretId: string, value: string): Promise<void> {
  await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
}

/** The CA both secrets hold, or a new one stored into them. */
async function ensureCertificateAuthority(
  client: SecretsManagerClient,
  props: VaultCaProperties,
): Promise<CertificateAuthority> {
  const [certFilled, keyFilled] = await Promise.all([
    hasValue(client, props.CertificateSecretArn),
    hasValue(client, props.PrivateKeySecretArn),
  ]);
  if (certFilled && keyFilled) {
    log('vault CA already present, kept');
    const [certPem, keyPem] = await Promise.all([
      valueOf(client, props.CertificateSecretArn),
      valueOf(client, props.PrivateKeySecretArn),
    ]);
    return { certPem, keyPem };
  }
  const ca = createCertificateAuthority(props.CommonName);
  await put(client, props.PrivateKeySecretArn, ca.keyPem);
  await put(client, props.CertificateSecretArn, ca.certPem);
  log('vault CA created');
  return ca;
}

/** Whether `certPem` is a certificate signed by `ca` and valid for more than the renewal margin. */
function stillGood(certPem: string, ca: CertificateAuthority): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const issuer = new X509Certificate(ca.certPem);
    const validTo = Date.parse(cert.validTo);
    return cert.verify(issuer.publicKey) && validTo - Date.now() > GATEWAY_RENEW_BEFORE_DAYS * DAY_MS;
  } catch {
    return false;
  }
}

async function ensureGatewayCertificate(
  client: SecretsManagerClient,
  props: Required<
    Pick<
      VaultCaProperties,
      'GatewayCertificateSecretArn' | 'GatewayPrivateKeySecretArn' | 'GatewayServerName'
    >
  >,
  ca: CertificateAuthority,
): Promise<void> {
  const [certFilled, keyFilled] = await Promise.all([
    hasValue(client, props.GatewayCertificateSecretArn),
    hasValue(client, props.GatewayPrivateKeySecretArn),
  ]);
  if (certFilled && keyFilled && stillGood(await valueOf(client, props.GatewayCertificateSecretArn), ca)) {
    log('egress gateway certificate already present, kept');
    return;
  }
  const issued = new LeafCertificateIssuer(ca, { validityDays: GATEWAY_VALIDITY_DAYS }).certificateFor(
    props.GatewayServerName,
  );
  await put(client, props.GatewayPrivateKeySecretArn, issued.keyPem);
  await put(client, props.GatewayCertificateSecretArn, issued.certPem);
  log('egress gateway certificate issued', { server_name: props.GatewayServerName });
}

export async function handleVaultCaEvent(
  event: VaultCaEvent,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<VaultCaResult> {
  const props = event.ResourceProperties;
  const physicalId = event.PhysicalResourceId ?? `vault-ca:${props.CertificateSecretArn}`;
  if (event.RequestType === 'Delete') {
    log('vault CA unchanged', { requestType: event.RequestType });
    return { PhysicalResourceId: physicalId };
  }
  const parsed = vaultCaPropertiesSchema.safeParse(props);
  if (!parsed.success) throw new Error(parsed.error.issues[0]!.message);
  const valid = parsed.data;
  const ca = await ensureCertificateAuthority(client, valid);
  // The schema has the three gateway fields all set or none; testing each narrows their types.
  if (valid.GatewayCertificateSecretArn && valid.GatewayPrivateKeySecretArn && valid.GatewayServerName) {
    await ensureGatewayCertificate(
      client,
      {
        GatewayCertificateSecretArn: valid.GatewayCertificateSecretArn,
        GatewayPrivateKeySecretArn: valid.GatewayPrivateKeySecretArn,
        GatewayServerName: valid.GatewayServerName,
      },
      ca,
    );
  }
  return { PhysicalResourceId: physicalId };
}

export const handler = (event: VaultCaEvent): Promise<VaultCaResult> => handleVaultCaEvent(event);
