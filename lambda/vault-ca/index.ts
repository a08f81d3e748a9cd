/**
 * Deploy-time custom resource (CDK provider framework): creates the deployment CA and stores it
 * in two Secrets Manager secrets created empty by the template, the certificate and the key.
 *
 * The key never leaves this function except into Secrets Manager: it is not in the response
 * data, not in logs. Create fills the secrets only if they are still empty, so a retried or
 * replayed Create keeps the CA every running sandbox trusts; Update and Delete change nothing
 * (the secrets themselves belong to CloudFormation).
 */
import {
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createCertificateAuthority } from '../../sandbox/vault/src/ca';

export interface VaultCaProperties {
  CertificateSecretArn: string;
  PrivateKeySecretArn: string;
  CommonName?: string;
}

export interface VaultCaEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  PhysicalResourceId?: string;
  ResourceProperties: VaultCaProperties & { ServiceToken?: string };
}

export interface VaultCaResult {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

function log(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level: 'info', msg, ...fields }));
}

async function hasValue(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return Object.values(described.VersionIdsToStages ?? {}).some((stages) => stages.includes('AWSCURRENT'));
}

export async function handleVaultCaEvent(
  event: VaultCaEvent,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<VaultCaResult> {
  const props = event.ResourceProperties;
  const physicalId = event.PhysicalResourceId ?? `vault-ca:${props.CertificateSecretArn}`;
  if (event.RequestType !== 'Create') {
    log('vault CA unchanged', { requestType: event.RequestType });
    return { PhysicalResourceId: physicalId };
  }
  if (!props.CertificateSecretArn || !props.PrivateKeySecretArn) {
    throw new Error('CertificateSecretArn and PrivateKeySecretArn are required properties');
  }
  const [certFilled, keyFilled] = await Promise.all([
    hasValue(client, props.CertificateSecretArn),
    hasValue(client, props.PrivateKeySecretArn),
  ]);
  if (certFilled && keyFilled) {
    log('vault CA already present, kept');
    return { PhysicalResourceId: physicalId };
  }
  const ca = createCertificateAuthority(props.CommonName);
  // Key first: a certificate is never published without its key stored.
  await client.send(
    new PutSecretValueCommand({ SecretId: props.PrivateKeySecretArn, SecretString: ca.keyPem }),
  );
  await client.send(
    new PutSecretValueCommand({ SecretId: props.CertificateSecretArn, SecretString: ca.certPem }),
  );
  log('vault CA created');
  return { PhysicalResourceId: physicalId };
}

export const handler = (event: VaultCaEvent): Promise<VaultCaResult> => handleVaultCaEvent(event);
