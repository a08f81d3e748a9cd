/**
 * `npm run cost -- --env <name> [--json]`: the monthly baseline of an environment (what it costs
 * idle, before sandboxes, traffic and log volume), computed from its synthesized templates and
 * the dated price table in tools/price-table.ts, plus the price of one sandbox hour.
 */
import { parseArgs } from 'node:util';
import { App } from 'aws-cdk-lib';
import { loadConfig, type DeploymentConfig } from '../lib/config';
import { createStacks } from '../lib/create-stacks';
import { HOURS_PER_MONTH as H, PRICES, PRICES_RECORDED_ON, PRICE_REGION } from './price-table';

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type Templates = Record<string, { Resources?: Record<string, Resource> }>;

export interface CostLine {
  item: string;
  quantity: number;
  /** USD per unit per month. */
  unitMonthly: number;
  monthly: number;
}

export interface CostReport {
  envName: string;
  lines: CostLine[];
  monthlyTotal: number;
  sandboxHour: { onDemand: number; spot: number };
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Synthesizes the templates without bundling (costs depend on resources, not code). */
export function synthesizeTemplates(config: DeploymentConfig): Templates {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true },
  });
  // Image URIs do not change what an environment costs; naming them skips the Dockerfile assets.
  const image = (name: string) => `cost-estimate.invalid/lap/${name}:0`;
  const images = {
    platform: image('platform'),
    vault: image('vault'),
    harness: Object.fromEntries(config.sandbox.harnesses.map((h) => [h, image(`harness-${h}`)])),
  };
  createStacks(app, { ...config, images }, { nag: false });
  return Object.fromEntries(app.synth().stacks.map((s) => [s.stackName, s.template as Templates[string]]));
}

export function estimateCost(config: DeploymentConfig, templates: Templates): CostReport {
  const resources = Object.values(templates).flatMap((t) => Object.values(t.Resources ?? {}));
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const lines: CostLine[] = [];
  /** `unitPrice` per hour when `hourly`, else per month (or per event for counted items). */
  const add = (item: string, quantity: number, _unit: string, unitPrice: number, hours = 1) => {
    const unitMonthly = unitPrice * hours;
    if (quantity > 0)
      lines.push({
        item,
        quantity,
        unitMonthly: Number(unitMonthly.toPrecision(4)),
        monthly: round(quantity * unitMonthly),
      });
  };
  const azs = config.network.availabilityZones.length;

  add('NAT gateway', ofType('AWS::EC2::NatGateway').length, 'gateway-hour', PRICES.natGatewayHour, H);
  const natInstances = ofType('AWS::EC2::Instance').length;
  add(
    'NAT instance (t4g.nano + 8 GiB gp3)',
    natInstances,
    'instance-hour',
    PRICES.natInstanceHour + (8 * PRICES.ebsGp3GiBMonth) / H,
    H,
  );
  const albs = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer');
  const publicAlbIps = albs.filter((a) => a.Properties?.Scheme !== 'internal').length * azs;
  add(
    'Public IPv4 addresses (NAT, ALB nodes)',
    ofType('AWS::EC2::EIP').length + natInstances + publicAlbIps,
    'address-hour',
    PRICES.publicIpv4Hour,
    H,
  );
  const interfaceEndpoints = ofType('AWS::EC2::VPCEndpoint').filter(
    (e) => e.Properties?.VpcEndpointType === 'Interface',
  ).length;
  add('Interface endpoints', interfaceEndpoints * azs, 'endpoint-AZ-hour', PRICES.interfaceEndpointAzHour, H);
  add('Application Load Balancer (+1 LCU)', albs.length, 'ALB-hour', PRICES.albHour + PRICES.albLcuHour, H);

  const clusters = ofType('AWS::RDS::DBCluster');
  if (clusters.length) {
    const instances = ofType('AWS::RDS::DBInstance').length;
    add(
      `Aurora Serverless v2 (${instances} instance(s) at min ${config.database.minCapacityAcu} ACU)`,
      instances * config.database.minCapacityAcu,
      'ACU-hour',
      PRICES.auroraServerlessV2AcuHour,
      H,
    );
    add('Aurora storage (assumed)', PRICES.assumedDatabaseGiB, 'GiB-month', PRICES.auroraStorageGiBMonth);
  } else {
    const hourly = PRICES.rdsInstanceHour[config.database.instanceType];
    if (hourly === undefined)
      throw new Error(`no price for db.${config.database.instanceType} in tools/price-table.ts`);
    add(
      `RDS PostgreSQL db.${config.database.instanceType}${config.database.multiAz ? ' Multi-AZ' : ''}`,
      config.database.multiAz ? 2 : 1,
      'instance-hour',
      hourly,
      H,
    );
    add(
      'RDS gp3 storage',
      config.database.allocatedStorageGiB * (config.database.multiAz ? 2 : 1),
      'GiB-month',
      PRICES.rdsGp3GiBMonth,
    );
  }

  const arch = config.platform.architecture;
  const taskHour = (cpu: number, memoryMiB: number) =>
    (cpu / 1024) * PRICES.fargateVcpuHour[arch] + (memoryMiB / 1024) * PRICES.fargateGiBHour[arch];
  const { web, worker } = config.platform;
  add(
    `Fargate web (${web.cpu / 1024} vCPU, ${web.memoryMiB / 1024} GiB, ${arch})`,
    web.minTasks,
    'task-hour',
    taskHour(web.cpu, web.memoryMiB),
    H,
  );
  add(
    `Fargate worker (${worker.cpu / 1024} vCPU, ${worker.memoryMiB / 1024} GiB, ${arch})`,
    worker.tasks,
    'task-hour',
    taskHour(worker.cpu, worker.memoryMiB),
    H,
  );

  const managedSecrets =
    [...clusters, ...ofType('AWS::RDS::DBInstance')].filter((r) => r.Properties?.ManageMasterUserPassword)
      .length > 0
      ? 1
      : 0;
  add(
    'Secrets Manager secrets',
    ofType('AWS::SecretsManager::Secret').length + managedSecrets,
    'secret-month',
    PRICES.secretMonth,
  );
  add('KMS keys', ofType('AWS::KMS::Key').length, 'key-month', PRICES.kmsKeyMonth);
  add('CloudWatch alarms', ofType('AWS::CloudWatch::Alarm').length, 'alarm-month', PRICES.alarmMonth);
  add(
    'CloudWatch dashboard',
    ofType('AWS::CloudWatch::Dashboard').length,
    'dashboard-month',
    PRICES.dashboardMonth,
  );
  add(
    'Cloud Map private namespace',
    ofType('AWS::ServiceDiscovery::PrivateDnsNamespace').length,
    'namespace-month',
    PRICES.cloudMapNamespaceMonth,
  );
  const acls = ofType('AWS::WAFv2::WebACL');
  add('WAF web ACL', acls.length, 'ACL-month', PRICES.wafWebAclMonth);
  add(
    'WAF rules',
    acls.reduce((n, a) => n + ((a.Properties?.Rules as unknown[]) ?? []).length, 0),
    'rule-month',
    PRICES.wafRuleMonth,
  );

  // Scheduled functions: the warm pool every minute, the reaper every 5 minutes, ~1 s at 512 MB each.
  const invocations = 60 * 24 * 30 + 12 * 24 * 30;
  add(
    'Lambda scheduled runs (~1 s at 512 MB each)',
    invocations,
    'invocation',
    0.5 * PRICES.lambdaArmGbSecond +
      PRICES.lambdaRequestMillion / 1e6 +
      PRICES.schedulerInvocationMillion / 1e6,
  );

  const sandboxOnDemand = taskHour(config.sandbox.cpu, config.sandbox.memoryMiB);
  return {
    envName: config.envName,
    lines,
    monthlyTotal: round(lines.reduce((sum, l) => sum + l.monthly, 0)),
    sandboxHour: {
      onDemand: round(sandboxOnDemand * 1000) / 1000,
      spot: round(sandboxOnDemand * (1 - PRICES.fargateSpotDiscount) * 1000) / 1000,
    },
  };
}

export function formatReport(report: CostReport, config: DeploymentConfig): string {
  const rows = report.lines.map(
    (l) => `| ${l.item} | ${l.quantity} | $${l.unitMonthly} | $${l.monthly.toFixed(2)} |`,
  );
  return [
    `## Monthly baseline: ${report.envName} (${config.region}; prices ${PRICE_REGION}, recorded ${PRICES_RECORDED_ON})`,
    '',
    '| Item | Quantity | USD per unit-month | USD per month |',
    '| --- | --- | --- | --- |',
    ...rows,
    `| **Total baseline** | | | **$${report.monthlyTotal.toFixed(2)}** |`,
    '',
    `One sandbox (${config.sandbox.cpu / 1024} vCPU, ${config.sandbox.memoryMiB / 1024} GiB, ${config.platform.architecture}): $${report.sandboxHour.onDemand}/hour on demand, ~$${report.sandboxHour.spot}/hour on Fargate Spot.`,
    'Not in the baseline: sandbox hours, NAT and ALB data processing, log ingestion ($0.50/GiB), Container Insights metrics, backups beyond the free allowance, data transfer.',
  ].join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: { env: { type: 'string', default: 'dev' }, json: { type: 'boolean', default: false } },
  });
  const config = loadConfig(values.env!);
  const report = estimateCost(config, synthesizeTemplates(config));
  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, config)}\n`,
  );
}

if (require.main === module) main();
