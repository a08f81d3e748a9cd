/**
 * `npm run preflight` against moto_server (EC2 zones, subnets and route tables; Secrets Manager)
 * and aws-sdk-client-mock for what moto does not model (Service Quotas of Lambda and Fargate,
 * the deployed stack's outputs).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AttachInternetGatewayCommand,
  AssociateRouteTableCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveConfig } from '../../lib/config';
import { parseImageReference, pinnedBases } from '../../tools/base-images';
import { builtDockerfiles } from '../../lib/constructs/container-images';
import { preflight, QUOTAS, type Check, type PreflightClients } from '../../tools/preflight';
import { freeLoopbackPort } from '../../platform/src/sandbox/local/free-port';
import { startMotoServer, type MotoServer } from '../platform/ecs/support/moto-server';
import { startRegistryDouble, type RegistryDouble } from './support/registry-double';
import { configWith } from './support/synth';

let moto: MotoServer;
let clients: PreflightClients;
let registry: RegistryDouble;
const quotasMock = mockClient(ServiceQuotasClient);
const cloudformationMock = mockClient(CloudFormationClient);

beforeAll(async () => {
  moto = await startMotoServer();
  registry = await startRegistryDouble();
  clients = {
    registries: { baseUrl: registry.baseUrl },
    ec2: new EC2Client(moto.clientConfig),
    secrets: new SecretsManagerClient(moto.clientConfig),
    quotas: new ServiceQuotasClient({ region: 'us-east-1' }),
    cloudformation: new CloudFormationClient({ region: 'us-east-1' }),
  };
});
afterAll(async () => {
  clients.ec2.destroy();
  clients.secrets.destroy();
  await moto.stop();
  await registry.close();
});

/** Quotas of a new account unless overridden; Lambda concurrency never raised (the default answers). */
function quotas(values: Partial<Record<keyof typeof QUOTAS, number>> = {}) {
  quotasMock.reset();
  const all = { lambdaConcurrency: 10, fargateOnDemandVcpu: 6, fargateSpotVcpu: 6, ...values };
  for (const [name, q] of Object.entries(QUOTAS)) {
    const value = all[name as keyof typeof QUOTAS];
    const input = { ServiceCode: q.service, QuotaCode: q.code };
    if (name === 'lambdaConcurrency') {
      quotasMock
        .on(GetServiceQuotaCommand, input)
        .rejects(Object.assign(new Error('not applied'), { name: 'NoSuchResourceException' }));
      quotasMock.on(GetAWSDefaultServiceQuotaCommand, input).resolves({ Quota: { Value: value } });
    } else {
      quotasMock.on(GetServiceQuotaCommand, input).resolves({ Quota: { Value: value } });
    }
  }
}

function notDeployed() {
  cloudformationMock.reset();
  cloudformationMock.on(DescribeStacksCommand).rejects(new Error('Stack with id lap-dev does not exist'));
}

const dev = (patch: Record<string, unknown> = {}) => resolveConfig('dev', configWith('dev', patch));
const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.check, c]));

test('a new account passes for the dev config, and says what it found', async () => {
  quotas();
  notDeployed();
  const checks = byName(await preflight(dev(), clients));
  expect(checks['Lambda concurrency']).toMatchObject({
    status: 'warn',
    detail: expect.stringMatching(/quota 10 .*reserves 0/),
  });
  expect(checks['Fargate on-demand vCPU']!.status).toBe('pass');
  expect(checks['Fargate Spot vCPU']).toMatchObject({
    status: 'pass',
    detail: expect.stringMatching(/quota 6 vCPU, needed 3.5/),
  });
  expect(checks['Availability zones']).toMatchObject({
    status: 'pass',
    detail: expect.stringMatching(/^us-east-1a = use1-az\d, us-east-1b = use1-az\d$/),
  });
  expect(checks['Gateway key secret']).toMatchObject({
    status: 'warn',
    detail: expect.stringMatching(/not deployed yet/),
  });
});

test('zones that the region does not have fail, listing the ones it has', async () => {
  quotas();
  notDeployed();
  const checks = byName(
    await preflight(dev({ network: { availabilityZones: ['us-east-1a', 'us-east-1z'] } }), clients),
  );
  expect(checks['Availability zones']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(
      /us-east-1z does not exist in us-east-1\. Zones of us-east-1: us-east-1a, us-east-1b/,
    ),
  });
});

test('quotas below what the deploy needs fail', async () => {
  quotas({ lambdaConcurrency: 5, fargateSpotVcpu: 1 });
  notDeployed();
  const checks = byName(await preflight(dev(), clients));
  expect(checks['Lambda concurrency']!.status).toBe('fail');
  expect(checks['Fargate Spot vCPU']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(/quota 1 vCPU, needed 3\.5/),
  });
});

test('an imported VPC: subnets short of addresses and sandbox subnets with a route out fail', async () => {
  quotas();
  notDeployed();
  const ec2 = clients.ec2;
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!.VpcId!;
  const subnet = async (cidr: string, zone: string) =>
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone })))
      .Subnet!.SubnetId!;
  const ids = async (third: number, mask: number) => [
    await subnet(`10.30.${third}.0/${mask}`, 'us-east-1a'),
    await subnet(`10.30.${third + 1}.0/${mask}`, 'us-east-1b'),
  ];
  const existingVpc = {
    vpcId,
    vpcCidr: '10.30.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    publicSubnetIds: await ids(0, 24),
    privateSubnetIds: await ids(2, 24),
    // A /28 holds 11 addresses: too few for the warm pool and the sessions.
    sandboxSubnetIds: await ids(4, 28),
    isolatedSubnetIds: await ids(6, 24),
  };
  // One sandbox subnet routes to an internet gateway: egress would not be enforced.
  const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
  const table = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
  await ec2.send(
    new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }),
  );
  await ec2.send(
    new AssociateRouteTableCommand({ RouteTableId: table, SubnetId: existingVpc.sandboxSubnetIds[1] }),
  );

  const config = dev({ network: { existingVpc }, sandbox: { egress: 'enforced' } });
  const checks = byName(await preflight(config, clients));
  expect(checks['Imported VPC private subnets']!.status).toBe('pass');
  expect(checks['Imported VPC sandbox subnets']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(/has 11 free addresses, needs 18/),
  });
  expect(checks['Sandbox subnets without a route out']).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining(`${existingVpc.sandboxSubnetIds[1]} -> 0.0.0.0/0 via ${igw}`),
  });
});

test('the gateway key secret of a deployed stack must hold a value', async () => {
  quotas();
  const arn = (await clients.secrets.send(new CreateSecretCommand({ Name: `lap-dev-gateway-${Date.now()}` })))
    .ARN!;
  cloudformationMock.reset();
  cloudformationMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'lap-dev',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [{ OutputKey: 'GatewayKeySecretArn', OutputValue: arn }],
      },
    ],
  });
  expect(byName(await preflight(dev(), clients))['Gateway key secret']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(/is empty: sandboxes cannot start\. aws secretsmanager put-secret-value/),
  });
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'sk-gateway' }));
  expect(byName(await preflight(dev(), clients))['Gateway key secret']!.status).toBe('pass');
});

describe('base images', () => {
  const enforced = () => dev({ sandbox: { egress: 'enforced' } });
  /** The registry serves every digest the Dockerfiles pin. */
  function servePinned() {
    registry.serves.clear();
    for (const base of pinnedBases(builtDockerfiles(enforced()))) {
      const { repository, digest } = parseImageReference(base.reference);
      registry.serves.set(repository, new Set([...(registry.serves.get(repository) ?? []), digest!]));
    }
  }

  test('references resolve as Docker resolves them', () => {
    expect(parseImageReference('node:24.21.0-bookworm-slim@sha256:' + 'a'.repeat(64))).toEqual({
      host: 'registry-1.docker.io',
      repository: 'library/node',
      digest: 'sha256:' + 'a'.repeat(64),
    });
    expect(parseImageReference('gcr.io/distroless/static-debian12:nonroot@sha256:' + 'b'.repeat(64))).toEqual(
      {
        host: 'gcr.io',
        repository: 'distroless/static-debian12',
        digest: 'sha256:' + 'b'.repeat(64),
      },
    );
    expect(parseImageReference('localhost:5000/team/base:1')).toMatchObject({
      host: 'localhost:5000',
      repository: 'team/base',
    });
  });

  test("every pinned base is asked of its own registry, with the registry's anonymous token", async () => {
    quotas();
    notDeployed();
    servePinned();
    registry.asked.length = 0;
    const check = byName(await preflight(enforced(), clients))['Base images']!;
    expect(check).toMatchObject({ status: 'pass', detail: 'the registries serve every pinned base (3)' });
    expect(registry.asked.map((a) => a.replace(/@.*/, '')).sort()).toEqual([
      'gcr.io distroless/static-debian12',
      'registry-1.docker.io library/golang',
      'registry-1.docker.io library/node',
    ]);
  });

  test('a pinned digest the registry does not serve fails, naming the Dockerfiles and the fix', async () => {
    quotas();
    notDeployed();
    servePinned();
    registry.serves.delete('library/node');
    const check = byName(await preflight(enforced(), clients))['Base images']!;
    expect(check.status).toBe('fail');
    expect(check.detail).toMatch(
      /does not serve node:24\.[\d.]+-bookworm-slim@sha256:[0-9a-f]{64} \(ARG NODE_IMAGE of platform\/Dockerfile, sandbox\/vault\/Dockerfile, sandbox\/harness\/Dockerfile\)/,
    );
    expect(check.detail).toMatch(/Moving a base/);
  });

  test('a registry out of reach is a warning; prebuilt images need no base', async () => {
    quotas();
    notDeployed();
    const closedPort = await freeLoopbackPort();
    const offline = {
      ...clients,
      registries: { baseUrl: () => `http://127.0.0.1:${closedPort}`, timeoutMs: 2000 },
    };
    expect(byName(await preflight(enforced(), offline))['Base images']).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/could not ask the registry about .*ECONNREFUSED/),
    });
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/lap:1';
    const prebuilt = dev({
      images: {
        platform: image,
        vault: image,
        harness: { opencode: image, 'claude-agent-sdk': image, 'claude-code': image, codex: image },
      },
    });
    expect(builtDockerfiles(prebuilt)).toEqual([]);
    expect(byName(await preflight(prebuilt, offline))['Base images']!.status).toBe('pass');
  });
});
