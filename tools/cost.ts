/**
 * `npm run cost -- --env <name> [--json]`: the monthly baseline of an environment (what it costs
 * while nobody uses it, before sandboxes, traffic and log volume), computed from its synthesized
 * template and the dated price table in tools/price-table.ts, per component, for the config's
 * egress mode and the other one; plus the price of one sandbox hour. The model is explained in
 * docs/cost-model.md.
 */
import { parseArgs } from 'node:util';
import { App } from 'aws-cdk-lib';
import { loadConfig, type DeploymentConfig } from '../lib/config';
import { createEnvironment } from '../lib/create-environment';
import { platformEnvSchema } from '../platform/src/config/platform-env';
import { ASSUMPTIONS, HOURS_PER_MONTH as H, PRICES, PRICES_RECORDED_ON, PRICE_REGION } from './price-table';

type Resource = { Type: string; Properties?: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Template = { Resources: Record<string, Resource> };

export const COMPONENTS = [
  'Network',
  'Load balancer and WAF',
  'Database',
  'Platform services',
  'Egress gateway',
  'Secrets and keys',
  'Monitoring',
  'Functions',
  'Logs and images',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface CostLine {
  component: Component;
  item: string;
  quantity: number;
  unit: string;
  /** USD per unit per month. */
  unitMonthly: number;
  monthly: number;
}

export interface CostReport {
  envName: string;
  egress: DeploymentConfig['sandbox']['egress'];
  lines: CostLine[];
  byComponent: Partial<Record<Component, number>>;
  monthlyTotal: number;
  sandboxHour: { onDemand: number; spot: number };
  /** What the model assumed about the code in this tree (e.g. whether the database can pause). */
  notes: string[];
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Synthesizes the template without bundling (costs depend on resources, not code). */
export function synthesizeTemplate(config: DeploymentConfig): Template {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true },
  });
  // Image URIs do not change what an environment costs; naming them skips the Dockerfile assets.
  const image = (name: string) => `cost-estimate.invalid/lap/${name}:0`;
  const images = {
    platform: image('platform'),
    vault: image('vault'),
    egressGateway: image('egress-gateway'),
    harness: Object.fromEntries(config.sandbox.harnesses.map((h) => [h, image(`harness-${h}`)])),
  };
  const stack = createEnvironment(app, { ...config, images }, { nag: false });
  return app.synth().getStackByName(stack.stackName).template as Template;
}

/**
 * Whether the platform in this tree reads JOB_POLL_IDLE_MAX_MS (its job runner backs off on an
 * empty queue). Until it does, the worker polls PostgreSQL every second and Aurora never pauses,
 * whatever the template says: the estimate must count that.
 */
export function platformBacksOffWhenIdle(): boolean {
  return 'JOB_POLL_IDLE_MAX_MS' in platformEnvSchema.shape;
}

function env(container: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    ((container.Environment ?? []) as Array<{ Name: string; Value: unknown }>).map((e) => [
      e.Name,
      String(e.Value),
    ]),
  );
}

export function estimateCost(
  config: DeploymentConfig,
  template: Template,
  options: { platformBacksOffWhenIdle?: boolean } = {},
): CostReport {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type).map(([, r]) => r);
  const byId = (value: unknown) =>
    value && typeof value === 'object' && 'Ref' in value
      ? template.Resources[(value as { Ref: string }).Ref]
      : undefined;
  const lines: CostLine[] = [];
  const notes: string[] = [];
  const add = (component: Component, item: string, quantity: number, unit: string, unitMonthly: number) => {
    if (quantity > 0) {
      lines.push({
        component,
        item,
        quantity: Number(quantity.toPrecision(6)),
        unit,
        unitMonthly: Number(unitMonthly.toPrecision(4)),
        monthly: round(quantity * unitMonthly),
      });
    }
  };
  const arch = config.platform.architecture;
  const taskHour = (cpu: number, memoryMiB: number, architecture: 'x86_64' | 'arm64') =>
    (cpu / 1024) * PRICES.fargateVcpuHour[architecture] +
    (memoryMiB / 1024) * PRICES.fargateGiBHour[architecture];

  // Network
  const natGateways = ofType('AWS::EC2::NatGateway').length;
  add('Network', 'NAT gateway', natGateways, 'gateway-month', PRICES.natGatewayHour * H);
  const natInstances = ofType('AWS::EC2::Instance');
  add(
    'Network',
    'NAT instance (t4g.nano, standard credits, 8 GiB gp3)',
    natInstances.length,
    'instance-month',
    PRICES.natInstanceHour * H + 8 * PRICES.ebsGp3GiBMonth,
  );
  const publicNatInstances = natInstances.filter((i) =>
    ((i.Properties?.NetworkInterfaces ?? []) as Array<{ AssociatePublicIpAddress?: boolean }>).some(
      (n) => n.AssociatePublicIpAddress,
    ),
  ).length;
  const albs = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer');
  const publicAlbNodes = albs
    .filter((a) => a.Properties?.Scheme !== 'internal')
    .reduce((n, a) => n + ((a.Properties?.Subnets as unknown[]) ?? []).length, 0);
  const eips = ofType('AWS::EC2::EIP').length;
  const addresses = [
    [eips, 'NAT gateway'],
    [publicNatInstances, 'NAT instance'],
    [publicAlbNodes, 'ALB'],
  ] as const;
  add(
    'Network',
    `Public IPv4 addresses (${addresses
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${n} ${what}`)
      .join(', ')})`,
    eips + publicNatInstances + publicAlbNodes,
    'address-month',
    PRICES.publicIpv4Hour * H,
  );
  const interfaceEndpoints = ofType('AWS::EC2::VPCEndpoint').filter(
    (e) => e.Properties?.VpcEndpointType === 'Interface',
  );
  const endpointAzs = interfaceEndpoints.reduce(
    (n, e) => n + ((e.Properties?.SubnetIds as unknown[]) ?? []).length,
    0,
  );
  add(
    'Network',
    `Interface endpoints (${interfaceEndpoints.length} services x their AZs)`,
    endpointAzs,
    'endpoint-AZ-month',
    PRICES.interfaceEndpointAzHour * H,
  );

  // Load balancer and WAF
  add(
    'Load balancer and WAF',
    'Application Load Balancer (idle: no LCU)',
    albs.length,
    'ALB-month',
    PRICES.albHour * H,
  );
  const acls = ofType('AWS::WAFv2::WebACL');
  add('Load balancer and WAF', 'WAF web ACL', acls.length, 'ACL-month', PRICES.wafWebAclMonth);
  add(
    'Load balancer and WAF',
    'WAF rules',
    acls.reduce((n, a) => n + ((a.Properties?.Rules as unknown[]) ?? []).length, 0),
    'rule-month',
    PRICES.wafRuleMonth,
  );

  // Database
  const clusters = ofType('AWS::RDS::DBCluster');
  const dbInstances = ofType('AWS::RDS::DBInstance');
  if (clusters.length) {
    const scaling = clusters[0]!.Properties?.ServerlessV2ScalingConfiguration as
      { MinCapacity: number; SecondsUntilAutoPause?: number } | undefined;
    const minAcu = scaling?.MinCapacity ?? config.database.minCapacityAcu;
    if (minAcu > 0) {
      add(
        'Database',
        `Aurora Serverless v2, ${dbInstances.length} instance(s) at ${minAcu} ACU, always on`,
        dbInstances.length * minAcu * H,
        'ACU-hour',
        PRICES.auroraServerlessV2AcuHour,
      );
    } else {
      const awake = auroraAwakeHours(
        template,
        scaling?.SecondsUntilAutoPause ?? 300,
        options.platformBacksOffWhenIdle ?? platformBacksOffWhenIdle(),
      );
      notes.push(awake.note);
      add(
        'Database',
        `Aurora Serverless v2 paused when unused: ${awake.hours.toFixed(1)} h/month awake at ${ASSUMPTIONS.auroraActiveMinAcu} ACU`,
        dbInstances.length * awake.hours * ASSUMPTIONS.auroraActiveMinAcu,
        'ACU-hour',
        PRICES.auroraServerlessV2AcuHour,
      );
    }
    add(
      'Database',
      'Aurora storage (assumed size)',
      ASSUMPTIONS.databaseGiB,
      'GiB-month',
      PRICES.auroraStorageGiBMonth,
    );
  } else {
    const hourly = PRICES.rdsInstanceHour[config.database.instanceType];
    if (hourly === undefined)
      throw new Error(`no price for db.${config.database.instanceType} in tools/price-table.ts`);
    const copies = config.database.multiAz ? 2 : 1;
    add(
      'Database',
      `RDS PostgreSQL db.${config.database.instanceType}${copies === 2 ? ' Multi-AZ' : ''}`,
      copies,
      'instance-month',
      hourly * H,
    );
    add(
      'Database',
      'RDS gp3 storage',
      config.database.allocatedStorageGiB * copies,
      'GiB-month',
      PRICES.rdsGp3GiBMonth,
    );
  }
  if (ofType('AWS::Backup::BackupPlan').length) {
    add(
      'Database',
      'AWS Backup recovery points (estimate: twice the database)',
      2 * ASSUMPTIONS.databaseGiB,
      'GiB-month',
      PRICES.backupGiBMonth,
    );
  }

  // Fargate services, from their task definitions and capacity providers.
  for (const [, service] of resources.filter(([, r]) => r.Type === 'AWS::ECS::Service')) {
    const taskDefinition = byId(service.Properties?.TaskDefinition);
    const p = taskDefinition?.Properties ?? {};
    const container = ((p.ContainerDefinitions ?? []) as Array<Record<string, unknown>>)[0] ?? {};
    const settings = env(container);
    const architecture = p.RuntimePlatform?.CpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64';
    const spot = (
      (service.Properties?.CapacityProviderStrategy ?? []) as Array<{ CapacityProvider: string }>
    ).some((s) => s.CapacityProvider === 'FARGATE_SPOT');
    const cpu = Number(p.Cpu);
    const memory = Number(p.Memory);
    const role = settings.PLATFORM_ROLE;
    const gateway = 'EGRESS_GATEWAY_ALLOWED_PORTS' in settings;
    const what = gateway
      ? 'egress gateway'
      : role === 'all'
        ? 'platform (web + worker in one task)'
        : `platform ${role}`;
    const hourly = taskHour(cpu, memory, architecture) * (spot ? 1 - PRICES.fargateSpotDiscount : 1);
    add(
      gateway ? 'Egress gateway' : 'Platform services',
      `Fargate ${what} (${cpu / 1024} vCPU, ${memory / 1024} GiB, ${architecture}${spot ? ', Spot' : ''})`,
      Number(service.Properties?.DesiredCount ?? 1),
      'task-month',
      hourly * H,
    );
  }
  const registered = resources
    .filter(([, r]) => r.Type === 'AWS::ECS::Service' && r.Properties?.ServiceRegistries)
    .reduce((n, [, r]) => n + Number(r.Properties?.DesiredCount ?? 1), 0);
  add(
    'Platform services',
    'Cloud Map private namespace (hosted zone)',
    ofType('AWS::ServiceDiscovery::PrivateDnsNamespace').length,
    'zone-month',
    PRICES.privateHostedZoneMonth,
  );
  add(
    'Platform services',
    'Cloud Map registered tasks',
    registered,
    'instance-month',
    PRICES.cloudMapInstanceMonth,
  );

  // Secrets and keys
  const managed = [...clusters, ...dbInstances].some((r) => r.Properties?.ManageMasterUserPassword) ? 1 : 0;
  add(
    'Secrets and keys',
    'Secrets Manager secrets (incl. the RDS-managed one)',
    ofType('AWS::SecretsManager::Secret').length + managed,
    'secret-month',
    PRICES.secretMonth,
  );
  add(
    'Secrets and keys',
    'KMS customer managed keys',
    ofType('AWS::KMS::Key').length,
    'key-month',
    PRICES.kmsKeyMonth,
  );

  // Monitoring
  add(
    'Monitoring',
    'CloudWatch alarms (standard resolution)',
    ofType('AWS::CloudWatch::Alarm').length,
    'alarm-month',
    PRICES.alarmMonth,
  );
  add(
    'Monitoring',
    'CloudWatch dashboard',
    ofType('AWS::CloudWatch::Dashboard').length,
    'dashboard-month',
    PRICES.dashboardMonth,
  );
  const insights = ofType('AWS::ECS::Cluster').some((c) =>
    ((c.Properties?.ClusterSettings ?? []) as Array<{ Name: string; Value: string }>).some(
      (s) => s.Name === 'containerInsights' && s.Value !== 'disabled',
    ),
  );
  if (insights) {
    const services = ofType('AWS::ECS::Service').length;
    add(
      'Monitoring',
      `Container Insights metrics (estimate: ${ASSUMPTIONS.containerInsightsClusterMetrics} per cluster + ${ASSUMPTIONS.containerInsightsServiceMetrics} per service)`,
      ASSUMPTIONS.containerInsightsClusterMetrics + services * ASSUMPTIONS.containerInsightsServiceMetrics,
      'metric-month',
      PRICES.customMetricMonth,
    );
  }

  // Scheduled functions: every run first asks ECS whether any sandbox runs and skips the
  // database when none does (lambda/shared/sandbox-activity.ts), which is the idle case.
  const schedules = ofType('AWS::Scheduler::Schedule').map((s) => String(s.Properties?.ScheduleExpression));
  const runs = schedules.reduce((n, expression) => n + runsPerMonth(expression), 0);
  add(
    'Functions',
    `Scheduled Lambda runs (${schedules.join(', ')}; ~${ASSUMPTIONS.idleRunSeconds} s at 512 MB while idle)`,
    runs,
    'run',
    ASSUMPTIONS.idleRunSeconds * 0.5 * PRICES.lambdaArmGbSecond +
      PRICES.lambdaRequestMillion / 1e6 +
      PRICES.schedulerInvocationMillion / 1e6,
  );

  // Logs and images
  const taskCount = ofType('AWS::ECS::Service').reduce(
    (n, s) => n + Number(s.Properties?.DesiredCount ?? 1),
    0,
  );
  const idleLogGiB =
    (runs * ASSUMPTIONS.logBytesPerScheduledRun +
      taskCount * ASSUMPTIONS.logBytesPerTaskMonth +
      (ofType('AWS::EC2::FlowLog').length ? ASSUMPTIONS.flowLogBytesPerMonth : 0)) /
    1024 ** 3;
  add(
    'Logs and images',
    'CloudWatch Logs ingestion while idle (estimate)',
    idleLogGiB,
    'GiB',
    PRICES.logsIngestGiB,
  );
  add(
    'Logs and images',
    'ECR image storage (estimate, one version of each image)',
    ASSUMPTIONS.imageGiB,
    'GiB-month',
    PRICES.ecrGiBMonth,
  );

  const sandboxOnDemand = taskHour(config.sandbox.cpu, config.sandbox.memoryMiB, arch);
  const byComponent: Partial<Record<Component, number>> = {};
  for (const line of lines)
    byComponent[line.component] = round((byComponent[line.component] ?? 0) + line.monthly);
  return {
    envName: config.envName,
    egress: config.sandbox.egress,
    lines,
    byComponent,
    monthlyTotal: round(lines.reduce((sum, l) => sum + l.monthly, 0)),
    sandboxHour: {
      onDemand: round(sandboxOnDemand * 1000) / 1000,
      spot: round(sandboxOnDemand * (1 - PRICES.fargateSpotDiscount) * 1000) / 1000,
    },
    notes,
  };
}

/** Runs per month of a `rate(N unit)` schedule expression. */
export function runsPerMonth(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) throw new Error(`cannot count the runs of schedule ${expression}`);
  const minutes =
    Number(match[1]) *
    ({ minute: 1, hour: 60, day: 1440 } as Record<string, number>)[match[2]!.replace(/s$/, '')]!;
  return (H * 60) / minutes;
}

/**
 * Hours per month an Aurora cluster with minimum 0 ACU is awake while nobody uses the platform:
 * each wake keeps it up for its auto-pause delay plus a minute. What wakes it: the job runner's
 * idle poll (JOB_POLL_IDLE_MAX_MS of the worker), the idle reaper's daily full pass, and the
 * weekly rotation of the RDS-managed password. A poll more often than the delay keeps it awake.
 */
export function auroraAwakeHours(
  template: Template,
  secondsUntilAutoPause: number,
  backsOffWhenIdle: boolean,
): { hours: number; note: string } {
  const workers = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
    .flatMap((t) => (t.Properties?.ContainerDefinitions ?? []) as Array<Record<string, unknown>>)
    .map(env)
    .filter((e) => e.PLATFORM_ROLE === 'worker' || e.PLATFORM_ROLE === 'all');
  const pollMs = backsOffWhenIdle
    ? Math.min(...workers.map((e) => Number(e.JOB_POLL_IDLE_MAX_MS ?? 1000)))
    : ASSUMPTIONS.legacyPollMs;
  const wakeSeconds = secondsUntilAutoPause + 60;
  if (pollMs / 1000 <= wakeSeconds) {
    return {
      hours: H,
      note: backsOffWhenIdle
        ? `The worker polls the database every ${pollMs / 1000} s when idle (JOB_POLL_IDLE_MAX_MS), more often than Aurora's auto-pause delay (${secondsUntilAutoPause} s): the database never pauses.`
        : 'The platform in this tree does not read JOB_POLL_IDLE_MAX_MS yet: its worker polls PostgreSQL every second, so Aurora never pauses and is counted awake all month. A platform whose job runner backs off on an empty queue lets `npm run cost` count only the wakes.',
    };
  }
  const wakesPerDay = 86_400_000 / pollMs + 1 + 1 / 7;
  const hours = Math.min(H, (wakesPerDay * 30.4167 * wakeSeconds) / 3600);
  return {
    hours,
    note: `Aurora pauses after ${secondsUntilAutoPause} s without a connection; idle, it wakes ${wakesPerDay.toFixed(1)} times a day (the job runner's poll every ${pollMs / 3_600_000} h, the reaper's daily pass, the weekly password rotation).`,
  };
}

export function formatReport(report: CostReport, config: DeploymentConfig, other?: CostReport): string {
  const rows = report.lines.map(
    (l) =>
      `| ${l.component} | ${l.item} | ${l.quantity} ${l.unit} | $${l.unitMonthly} | $${l.monthly.toFixed(2)} |`,
  );
  const components = COMPONENTS.filter((c) => report.byComponent[c] !== undefined).map(
    (c) =>
      `| ${c} | $${report.byComponent[c]!.toFixed(2)} |${other ? ` $${(other.byComponent[c] ?? 0).toFixed(2)} |` : ''}`,
  );
  return [
    `## Monthly baseline: ${report.envName} (${config.region}; prices ${PRICE_REGION}, recorded ${PRICES_RECORDED_ON})`,
    '',
    '| Component | Item | Quantity | USD per unit | USD per month |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    `| **Total** | sandbox.egress "${report.egress}" | | | **$${report.monthlyTotal.toFixed(2)}** |`,
    '',
    `| Component | egress "${report.egress}" (this config) |${other ? ` egress "${other.egress}" |` : ''}`,
    `| --- | --- |${other ? ' --- |' : ''}`,
    ...components,
    `| **Total** | **$${report.monthlyTotal.toFixed(2)}** |${other ? ` **$${other.monthlyTotal.toFixed(2)}** |` : ''}`,
    '',
    ...report.notes.map((n) => `- ${n}`),
    `- One sandbox (${config.sandbox.cpu / 1024} vCPU, ${config.sandbox.memoryMiB / 1024} GiB, ${config.platform.architecture}): $${report.sandboxHour.onDemand}/hour on demand, ~$${report.sandboxHour.spot}/hour on Fargate Spot.`,
    '- Not in the baseline: sandbox hours, the database above its minimum, NAT, endpoint and ALB data processing (LCUs), WAF requests, log volume beyond idle, data transfer.',
  ].join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: { env: { type: 'string', default: 'dev' }, json: { type: 'boolean', default: false } },
  });
  const config = loadConfig(values.env!);
  const report = estimateCost(config, synthesizeTemplate(config));
  const otherEgress = config.sandbox.egress === 'enforced' ? 'advisory' : 'enforced';
  const otherConfig = { ...config, sandbox: { ...config.sandbox, egress: otherEgress } } as DeploymentConfig;
  const other = estimateCost(otherConfig, synthesizeTemplate(otherConfig));
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ [report.egress]: report, [other.egress]: other }, null, 2)}\n`
      : `${formatReport(report, config, other)}\n`,
  );
}

if (require.main === module) main();
