/**
 * `npm run preflight -- --env <name> [--json]`: checks the account-level facts a deploy of the
 * environment depends on, before `cdk deploy` (docs/deploy.md, step 2), with the credentials of
 * the target account:
 *   - the Lambda concurrency quota (the functions reserve none; the account must still keep its
 *     10 unreserved executions),
 *   - the Fargate vCPU quotas (on-demand and Spot) against what the services need during a
 *     rolling deploy plus the warm pool and one session,
 *   - the availability zones: each configured name exists in the region, is available and is a
 *     zone (not a Local Zone); their zone ids are printed,
 *   - an imported VPC's subnets: they exist in that VPC and zone, have the free addresses the
 *     tasks need, and with `sandbox.egress` "enforced" the sandbox subnets have no route out,
 *   - the gateway key secret holds a value (once the stack exists, or when the config names it),
 *   - the base images of the Dockerfiles `cdk deploy` will build: their registry serves each
 *     pinned digest (a registry this machine cannot reach is a warning: the build needs it too).
 * Exits 1 when a check fails. Read-only: Describe/Get calls (and registry HEADs) only.
 */
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { loadConfig, type DeploymentConfig } from '../lib/config';
import { builtDockerfiles } from '../lib/constructs/container-images';
import { stackName } from '../lib/create-environment';
import { lookUpManifest, pinnedBases, type RegistryAccess } from './base-images';
import { synthesizeTemplate, type Template } from './cost';

/** Service Quotas codes (aws service-quotas list-service-quotas --service-code ...). */
export const QUOTAS = {
  lambdaConcurrency: { service: 'lambda', code: 'L-B99A9384' },
  fargateOnDemandVcpu: { service: 'fargate', code: 'L-3032A538' },
  fargateSpotVcpu: { service: 'fargate', code: 'L-36FBB829' },
} as const;

/** AWS keeps this many Lambda executions unreserved in every account. */
const UNRESERVED_MINIMUM = 10;
/** Addresses a private subnet needs besides sandboxes: service tasks (x2 while deploying), Lambda ENIs, endpoints. */
const PRIVATE_SUBNET_ADDRESSES = 32;

export interface Check {
  check: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
}

export interface PreflightClients {
  ec2: EC2Client;
  quotas: ServiceQuotasClient;
  secrets: SecretsManagerClient;
  cloudformation: CloudFormationClient;
  /** How the image registries are reached (default: each registry's public HTTPS endpoint). */
  registries?: RegistryAccess;
}

async function quota(client: ServiceQuotasClient, q: { service: string; code: string }): Promise<number> {
  try {
    const out = await client.send(new GetServiceQuotaCommand({ ServiceCode: q.service, QuotaCode: q.code }));
    return out.Quota!.Value!;
  } catch (error) {
    if ((error as Error).name !== 'NoSuchResourceException') throw error;
    // Never raised in this account: the AWS default applies.
    const out = await client.send(
      new GetAWSDefaultServiceQuotaCommand({ ServiceCode: q.service, QuotaCode: q.code }),
    );
    return out.Quota!.Value!;
  }
}

/** vCPU of the template's Fargate services while deploying (maximum percent), by capacity. */
export function serviceVcpu(template: Template): { onDemand: number; spot: number } {
  const total = { onDemand: 0, spot: 0 };
  for (const service of Object.values(template.Resources).filter((r) => r.Type === 'AWS::ECS::Service')) {
    const ref = (service.Properties?.TaskDefinition as { Ref: string }).Ref;
    const cpu = Number(template.Resources[ref]!.Properties!.Cpu) / 1024;
    const count = Number(service.Properties?.DesiredCount ?? 1);
    const deploying = Number(service.Properties?.DeploymentConfiguration?.MaximumPercent ?? 200) / 100;
    const spot = (
      (service.Properties?.CapacityProviderStrategy ?? []) as Array<{ CapacityProvider: string }>
    ).some((s) => s.CapacityProvider === 'FARGATE_SPOT');
    total[spot ? 'spot' : 'onDemand'] += cpu * Math.ceil(count * deploying);
  }
  return total;
}

async function lambdaCheck(template: Template, clients: PreflightClients): Promise<Check> {
  const limit = await quota(clients.quotas, QUOTAS.lambdaConcurrency);
  const reserved = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .reduce((n, r) => n + Number(r.Properties?.ReservedConcurrentExecutions ?? 0), 0);
  const detail = `quota ${limit} concurrent executions; the stack reserves ${reserved}, AWS keeps ${UNRESERVED_MINIMUM} unreserved`;
  if (limit - reserved < UNRESERVED_MINIMUM) return { check: 'Lambda concurrency', status: 'fail', detail };
  if (limit <= UNRESERVED_MINIMUM) {
    return {
      check: 'Lambda concurrency',
      status: 'warn',
      detail: `${detail}: enough to deploy; the functions share these ${limit} with the rest of the account (ask for more in Service Quotas if it runs other Lambdas)`,
    };
  }
  return { check: 'Lambda concurrency', status: 'pass', detail };
}

async function fargateCheck(
  config: DeploymentConfig,
  template: Template,
  clients: PreflightClients,
): Promise<Check[]> {
  const [onDemandQuota, spotQuota] = await Promise.all([
    quota(clients.quotas, QUOTAS.fargateOnDemandVcpu),
    quota(clients.quotas, QUOTAS.fargateSpotVcpu),
  ]);
  const services = serviceVcpu(template);
  const sandbox = config.sandbox.cpu / 1024;
  // The warm pool and one session; Spot first unless the config says on-demand (the fallback then needs on-demand).
  const sandboxes = (config.platform.warmPoolSize + 1) * sandbox;
  const sandboxesOnSpot = config.sandbox.capacity !== 'on-demand';
  const need = {
    onDemand: services.onDemand + (sandboxesOnSpot ? sandbox : sandboxes),
    spot: services.spot + (sandboxesOnSpot ? sandboxes : 0),
  };
  const verdict = (name: string, limit: number, needed: number, what: string): Check => ({
    check: name,
    status: limit >= needed ? 'pass' : 'fail',
    detail: `quota ${limit} vCPU, needed ${needed} (${what})`,
  });
  return [
    verdict(
      'Fargate on-demand vCPU',
      onDemandQuota,
      need.onDemand,
      sandboxesOnSpot
        ? 'on-demand services while deploying, one sandbox falling back from Spot'
        : 'services while deploying, the warm pool and one session',
    ),
    verdict(
      'Fargate Spot vCPU',
      spotQuota,
      need.spot,
      sandboxesOnSpot
        ? 'Spot services while deploying, the warm pool and one session'
        : 'Spot services while deploying',
    ),
  ];
}

async function zonesCheck(config: DeploymentConfig, clients: PreflightClients): Promise<Check> {
  const out = await clients.ec2.send(new DescribeAvailabilityZonesCommand({}));
  const zones = new Map((out.AvailabilityZones ?? []).map((z) => [z.ZoneName!, z]));
  const problems: string[] = [];
  const ids: string[] = [];
  for (const name of config.network.availabilityZones) {
    const zone = zones.get(name);
    if (!zone) problems.push(`${name} does not exist in ${config.region}`);
    else if (zone.State !== 'available') problems.push(`${name} is ${zone.State}`);
    else if ((zone.ZoneType ?? 'availability-zone') !== 'availability-zone')
      problems.push(`${name} is a ${zone.ZoneType}, not an availability zone`);
    else ids.push(`${name} = ${zone.ZoneId}`);
  }
  const available = [...zones.values()]
    .filter((z) => z.State === 'available' && (z.ZoneType ?? 'availability-zone') === 'availability-zone')
    .map((z) => z.ZoneName)
    .join(', ');
  return problems.length
    ? {
        check: 'Availability zones',
        status: 'fail',
        detail: `${problems.join('; ')}. Zones of ${config.region}: ${available}`,
      }
    : { check: 'Availability zones', status: 'pass', detail: ids.join(', ') };
}

async function importedVpcCheck(config: DeploymentConfig, clients: PreflightClients): Promise<Check[]> {
  const vpc = config.network.existingVpc;
  if (!vpc) return [];
  const groups: Array<[string, string[], number]> = [
    ['public', vpc.publicSubnetIds, 8],
    ['private', vpc.privateSubnetIds, PRIVATE_SUBNET_ADDRESSES],
    ['sandbox', vpc.sandboxSubnetIds ?? [], config.platform.warmPoolSize + 16],
    ['isolated', vpc.isolatedSubnetIds, 8],
  ];
  const ids = groups.flatMap(([, list]) => list);
  const found = new Map(
    ((await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }))).Subnets ?? []).map((s) => [
      s.SubnetId!,
      s,
    ]),
  );
  const checks: Check[] = [];
  for (const [group, list, needed] of groups) {
    const problems: string[] = [];
    const free: string[] = [];
    list.forEach((id, i) => {
      const subnet = found.get(id);
      if (!subnet) return problems.push(`${id} not found`);
      if (subnet.VpcId !== vpc.vpcId) problems.push(`${id} is in ${subnet.VpcId}, not ${vpc.vpcId}`);
      if (subnet.AvailabilityZone !== vpc.availabilityZones[i]) {
        problems.push(`${id} is in ${subnet.AvailabilityZone}, listed for ${vpc.availabilityZones[i]}`);
      }
      const count = subnet.AvailableIpAddressCount ?? 0;
      if (count < needed) problems.push(`${id} has ${count} free addresses, needs ${needed}`);
      free.push(`${id}: ${count}`);
    });
    if (list.length) {
      checks.push({
        check: `Imported VPC ${group} subnets`,
        status: problems.length ? 'fail' : 'pass',
        detail: problems.length ? problems.join('; ') : `free addresses ${free.join(', ')}`,
      });
    }
  }
  if (config.sandbox.egress === 'enforced' && vpc.sandboxSubnetIds) {
    const tables =
      (
        await clients.ec2.send(
          new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.vpcId] }] }),
        )
      ).RouteTables ?? [];
    const main = tables.find((t) => (t.Associations ?? []).some((a) => a.Main));
    const ways: string[] = [];
    for (const id of vpc.sandboxSubnetIds) {
      const table = tables.find((t) => (t.Associations ?? []).some((a) => a.SubnetId === id)) ?? main;
      for (const route of table?.Routes ?? []) {
        const target =
          route.NatGatewayId ??
          route.TransitGatewayId ??
          route.VpcPeeringConnectionId ??
          route.NetworkInterfaceId ??
          route.InstanceId ??
          route.EgressOnlyInternetGatewayId ??
          route.GatewayId;
        // Local routes and gateway endpoints (vpce-) keep traffic inside AWS's network.
        if (!target || target === 'local' || target.startsWith('vpce-')) continue;
        ways.push(
          `${id} -> ${route.DestinationCidrBlock ?? route.DestinationIpv6CidrBlock ?? route.DestinationPrefixListId} via ${target}`,
        );
      }
    }
    checks.push({
      check: 'Sandbox subnets without a route out',
      status: ways.length ? 'fail' : 'pass',
      detail: ways.length
        ? `sandbox.egress "enforced" needs subnets whose only way out is the egress gateway: ${ways.join('; ')}`
        : 'no route beyond the VPC (local) and gateway endpoints',
    });
  }
  return checks;
}

async function gatewayKeyCheck(config: DeploymentConfig, clients: PreflightClients): Promise<Check> {
  let arn = config.gatewayKeySecretArn;
  if (!arn) {
    try {
      const stacks = await clients.cloudformation.send(
        new DescribeStacksCommand({ StackName: stackName(config.envName) }),
      );
      arn = stacks.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'GatewayKeySecretArn')?.OutputValue;
    } catch (error) {
      if (!/does not exist/.test((error as Error).message)) throw error;
      return {
        check: 'Gateway key secret',
        status: 'warn',
        detail: `${stackName(config.envName)} is not deployed yet: after the first deploy, run its SetGatewayKeyCommand output, then preflight again`,
      };
    }
  }
  if (!arn)
    return {
      check: 'Gateway key secret',
      status: 'fail',
      detail: 'the stack has no GatewayKeySecretArn output',
    };
  const described = await clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
  const set = Object.values(described.VersionIdsToStages ?? {}).some((stages) =>
    stages.includes('AWSCURRENT'),
  );
  return set
    ? { check: 'Gateway key secret', status: 'pass', detail: `${arn} holds a value` }
    : {
        check: 'Gateway key secret',
        status: 'fail',
        detail: `${arn} is empty: sandboxes cannot start. aws secretsmanager put-secret-value --region ${config.region} --secret-id ${arn} --secret-string "$LITELLM_API_KEY"`,
      };
}

async function baseImagesCheck(config: DeploymentConfig, clients: PreflightClients): Promise<Check> {
  const bases = pinnedBases(builtDockerfiles(config));
  const found: string[] = [];
  const missing: string[] = [];
  const unreachable: string[] = [];
  for (const base of bases) {
    const lookup = await lookUpManifest(base.reference, clients.registries);
    if (lookup.state === 'found') found.push(base.reference);
    else if (lookup.state === 'missing')
      missing.push(`${base.reference} (ARG ${base.arg} of ${base.dockerfiles.join(', ')})`);
    else unreachable.push(`${base.reference}: ${lookup.reason}`);
  }
  const check = 'Base images';
  if (missing.length > 0)
    return {
      check,
      status: 'fail',
      detail: `the registry does not serve ${missing.join('; ')}: cdk deploy would fail building it. Pin the tag's current digest (docs/images.md, "Moving a base")`,
    };
  if (unreachable.length > 0)
    return {
      check,
      status: 'warn',
      detail: `could not ask the registry about ${unreachable.join('; ')}; cdk deploy pulls these bases from this machine`,
    };
  return { check, status: 'pass', detail: `the registries serve every pinned base (${found.length})` };
}

export async function preflight(
  config: DeploymentConfig,
  clients: PreflightClients,
  template: Template = synthesizeTemplate(config),
): Promise<Check[]> {
  return [
    await lambdaCheck(template, clients),
    ...(await fargateCheck(config, template, clients)),
    await zonesCheck(config, clients),
    ...(await importedVpcCheck(config, clients)),
    await gatewayKeyCheck(config, clients),
    await baseImagesCheck(config, clients),
  ];
}

export function formatChecks(envName: string, checks: Check[]): string {
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
  return [
    `Preflight for ${stackName(envName)}:`,
    ...checks.map((c) => `  ${mark[c.status]}  ${c.check}: ${c.detail}`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { env: { type: 'string', default: 'dev' }, json: { type: 'boolean', default: false } },
  });
  const config = loadConfig(values.env!);
  const region = { region: config.region };
  const checks = await preflight(config, {
    ec2: new EC2Client(region),
    // Service Quotas of the config's region.
    quotas: new ServiceQuotasClient(region),
    secrets: new SecretsManagerClient(region),
    cloudformation: new CloudFormationClient(region),
  });
  process.stdout.write(
    values.json ? `${JSON.stringify(checks, null, 2)}\n` : `${formatChecks(config.envName, checks)}\n`,
  );
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`npm run preflight: ${error.message}`);
    process.exitCode = 1;
  });
}
