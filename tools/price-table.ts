/**
 * The dated price table behind `npm run cost` and docs/cost-model.md: AWS public on-demand list
 * prices for us-east-1 (N. Virginia), USD, recorded on PRICES_RECORDED_ON. Other regions cost
 * up to ~15% more (eu-west-1 is ~5-10% above). Check https://aws.amazon.com/pricing before
 * budgeting; update this file (and its date) when AWS changes a price.
 */
export const PRICES_RECORDED_ON = '2026-11-22';
export const PRICE_REGION = 'us-east-1';
export const HOURS_PER_MONTH = 730;

export const PRICES = {
  natGatewayHour: 0.045,
  /** t4g.nano on-demand + its 8 GiB gp3 root volume per month. */
  natInstanceHour: 0.0042,
  ebsGp3GiBMonth: 0.08,
  publicIpv4Hour: 0.005,
  interfaceEndpointAzHour: 0.01,
  albHour: 0.0225,
  /** One LCU, the minimum any live load balancer consumes. */
  albLcuHour: 0.008,
  auroraServerlessV2AcuHour: 0.12,
  auroraStorageGiBMonth: 0.1,
  rdsInstanceHour: {
    't4g.micro': 0.016,
    't4g.small': 0.032,
    't4g.medium': 0.065,
    't4g.large': 0.129,
    'm7g.large': 0.168,
  } as Record<string, number>,
  rdsGp3GiBMonth: 0.115,
  fargateVcpuHour: { x86_64: 0.04048, arm64: 0.03238 },
  fargateGiBHour: { x86_64: 0.004445, arm64: 0.00356 },
  /** Fargate Spot, typical discount on the on-demand price. */
  fargateSpotDiscount: 0.7,
  secretMonth: 0.4,
  kmsKeyMonth: 1.0,
  alarmMonth: 0.1,
  dashboardMonth: 3.0,
  /** A Cloud Map private DNS namespace is a Route 53 private hosted zone. */
  privateHostedZoneMonth: 0.5,
  /** Cloud Map, per registered instance (each ECS task of a service with service discovery). */
  cloudMapInstanceMonth: 0.1,
  /** A CloudWatch custom metric (Container Insights metrics are billed as these), first 10,000. */
  customMetricMonth: 0.3,
  wafWebAclMonth: 5.0,
  wafRuleMonth: 1.0,
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequestMillion: 0.2,
  schedulerInvocationMillion: 1.0,
  logsIngestGiB: 0.5,
  ecrGiBMonth: 0.1,
  /** AWS Backup storage of Aurora and RDS recovery points (warm). */
  backupGiBMonth: 0.021,
} as const;

/**
 * What the baseline assumes where the template alone cannot say; each figure is shown next to
 * its line in `npm run cost` and explained in docs/cost-model.md.
 */
export const ASSUMPTIONS = {
  /** Database size of a young control plane. */
  databaseGiB: 10,
  /** Aurora's capacity while awake with a 0 ACU minimum. */
  auroraActiveMinAcu: 0.5,
  /** The job runner's poll while the platform does not back off (platform/src/worker/job-runner.ts). */
  legacyPollMs: 1000,
  /** A scheduled function's run that finds no sandbox and skips the database, billed duration. */
  idleRunSeconds: 0.3,
  /** Log lines of one scheduled run (platform START/END/REPORT + one JSON line). */
  logBytesPerScheduledRun: 1200,
  /** Log lines of one idle service task per month (health checks, heartbeats). */
  logBytesPerTaskMonth: 50 * 1024 ** 2,
  /** VPC flow log records of an idle VPC per month. */
  flowLogBytesPerMonth: 300 * 1024 ** 2,
  /** One stored version of every image (platform, vault, four harnesses, gateway; layers shared). */
  imageGiB: 3,
  /** Container Insights metrics (standard): per cluster and per service. */
  containerInsightsClusterMetrics: 8,
  containerInsightsServiceMetrics: 10,
} as const;
