/** The vault CA custom resource handler against Secrets Manager (moto_server). */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { handleVaultCaEvent, type VaultCaEvent } from '../../lambda/vault-ca/index';
import { startMotoServer, type MotoServer } from '../platform/ecs/support/moto-server';

let moto: MotoServer;
let client: SecretsManagerClient;
let logged: string[];

beforeAll(async () => {
  moto = await startMotoServer();
  client = new SecretsManagerClient(moto.clientConfig);
});
afterAll(async () => {
  client.destroy();
  await moto.stop();
});
beforeEach(() => {
  logged = [];
  jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
});
afterEach(() => jest.restoreAllMocks());

async function emptySecrets(): Promise<{ cert: string; key: string }> {
  const suffix = Math.random().toString(36).slice(2);
  const cert = await client.send(new CreateSecretCommand({ Name: `vault-ca-cert-${suffix}` }));
  const key = await client.send(new CreateSecretCommand({ Name: `vault-ca-key-${suffix}` }));
  return { cert: cert.ARN!, key: key.ARN! };
}

const value = async (arn: string) =>
  (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString!;

const event = (
  type: VaultCaEvent['RequestType'],
  arns: { cert: string; key: string },
  physicalId?: string,
  gateway?: { cert: string; key: string },
): VaultCaEvent => ({
  RequestType: type,
  PhysicalResourceId: physicalId,
  ResourceProperties: {
    CertificateSecretArn: arns.cert,
    PrivateKeySecretArn: arns.key,
    CommonName: 'LAP test vault CA',
    ...(gateway
      ? {
          GatewayCertificateSecretArn: gateway.cert,
          GatewayPrivateKeySecretArn: gateway.key,
          GatewayServerName: 'lap-egress-gateway',
        }
      : {}),
  },
});

it('creates a CA into the two secrets and returns neither value', async () => {
  const arns = await emptySecrets();
  const result = await handleVaultCaEvent(event('Create', arns), client);
  const certPem = await value(arns.cert);
  const keyPem = await value(arns.key);
  const cert = new X509Certificate(certPem);
  expect(cert.subject).toMatch(/CN=LAP test vault CA/);
  expect(cert.ca).toBe(true);
  expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  expect(JSON.stringify(result)).not.toMatch(/BEGIN|PRIVATE/);
  expect(result.Data).toBeUndefined();
  expect(logged.join('\n')).not.toMatch(/BEGIN|PRIVATE KEY/);
  expect(logged.join('\n')).toMatch(/vault CA created/);
});

it('keeps an existing CA on a replayed Create, and on Update and Delete', async () => {
  const arns = await emptySecrets();
  const first = await handleVaultCaEvent(event('Create', arns), client);
  const certPem = await value(arns.cert);
  const keyPem = await value(arns.key);
  await handleVaultCaEvent(event('Create', arns), client);
  await handleVaultCaEvent(event('Update', arns, first.PhysicalResourceId), client);
  const deleted = await handleVaultCaEvent(event('Delete', arns, first.PhysicalResourceId), client);
  expect(deleted.PhysicalResourceId).toBe(first.PhysicalResourceId);
  expect(await value(arns.cert)).toBe(certPem);
  expect(await value(arns.key)).toBe(keyPem);
  expect(logged.join('\n')).toMatch(/vault CA already present, kept/);
});

it('fails a Create without the secret ARNs', async () => {
  await expect(
    handleVaultCaEvent(
      { RequestType: 'Create', ResourceProperties: { CertificateSecretArn: '', PrivateKeySecretArn: '' } },
      client,
    ),
  ).rejects.toThrow(/CertificateSecretArn and PrivateKeySecretArn are required/);
});

it('fills replaced, empty secrets on an Update: sandboxes never start with an empty CA', async () => {
  const arns = await emptySecrets();
  const first = await handleVaultCaEvent(event('Create', arns), client);
  // CloudFormation replaced both secrets: the Update names two new, empty ones.
  const replaced = await emptySecrets();
  await handleVaultCaEvent(event('Update', replaced, first.PhysicalResourceId), client);
  const cert = new X509Certificate(await value(replaced.cert));
  expect(cert.ca).toBe(true);
  expect(cert.checkPrivateKey(createPrivateKey(await value(replaced.key)))).toBe(true);
});

it("issues the egress gateway's certificate for lap-egress-gateway, signed by the CA, and keeps it", async () => {
  const arns = await emptySecrets();
  const gateway = await emptySecrets();
  await handleVaultCaEvent(event('Create', arns, undefined, gateway), client);
  const ca = new X509Certificate(await value(arns.cert));
  const certPem = await value(gateway.cert);
  const cert = new X509Certificate(certPem);
  expect(cert.subjectAltName).toBe('DNS:lap-egress-gateway');
  expect(cert.ca).toBe(false);
  expect(cert.verify(ca.publicKey)).toBe(true);
  expect(cert.checkPrivateKey(createPrivateKey(await value(gateway.key)))).toBe(true);
  // Long-lived: the gateway reads it once at task start and nothing renews it between deploys.
  expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(9 * 365 * 24 * 3600 * 1000);
  expect(logged.join('\n')).not.toMatch(/BEGIN|PRIVATE KEY/);

  await handleVaultCaEvent(event('Update', arns, 'vault-ca', gateway), client);
  expect(await value(gateway.cert)).toBe(certPem);
  expect(logged.join('\n')).toMatch(/egress gateway certificate already present, kept/);
});

it('issues the gateway certificate again when the CA was replaced', async () => {
  const arns = await emptySecrets();
  const gateway = await emptySecrets();
  await handleVaultCaEvent(event('Create', arns, undefined, gateway), client);
  const before = await value(gateway.cert);
  const newCa = await emptySecrets();
  await handleVaultCaEvent(event('Update', newCa, 'vault-ca', gateway), client);
  const after = new X509Certificate(await value(gateway.cert));
  expect(await value(gateway.cert)).not.toBe(before);
  expect(after.verify(new X509Certificate(await value(newCa.cert)).publicKey)).toBe(true);
});

it('refuses half a gateway configuration', async () => {
  const arns = await emptySecrets();
  const bad = event('Create', arns);
  bad.ResourceProperties.GatewayServerName = 'lap-egress-gateway';
  await expect(handleVaultCaEvent(bad, client)).rejects.toThrow(/go together: set all three or none/);
});
