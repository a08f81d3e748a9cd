/**
 * The deployment configuration: one JSON file per environment in `config/<env>.json`,
 * chosen with `-c env=<name>` (default `dev`).
 *
 * `DeploymentConfigInput` is what a user writes (everything optional but the gateway URL);
 * `DeploymentConfig` is the resolved shape the stacks read (every default applied, including
 * the ones that depend on `production`). Both come from the one zod schema below.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HARNESS_IDS, type HarnessId } from '@lap/sandbox-protocol';
import { parseDestinationRule } from '@lap/vault/src/destination-rules';
import { z } from 'zod';

const HARNESSES = HARNESS_IDS;
export type HarnessName = HarnessId;

const ENV_NAME = /^[a-z][a-z0-9-]{0,19}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
const ARN = /^arn:aws[a-z-]*:/;
const IMAGE_URI = /^[^\s]+(:[^\s/]+|@sha256:[a-f0-9]{64})$/;
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate CPU units and the memory sizes each allows. */
const FARGATE_MEMORY: Record<number, [number, number]> = {
  256: [512, 2048],
  512: [1024, 4096],
  1024: [2048, 8192],
  2048: [4096, 16384],
  4096: [8192, 30720],
};

const logRetention = z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
  message: `must be one of CloudWatch's retention values: ${LOG_RETENTION_DAYS.join(', ')}`,
});

const fargateSize = {
  /** Fargate CPU units (256, 512, 1024, 2048 or 4096). */
  cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
  /** Memory in MiB, within the range Fargate allows for `cpu`. */
  memoryMiB: z.number().int(),
};

/** Where an AZ name must start: its region (e.g. eu-west-1a in eu-west-1). */
const AZ_NAME = /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/;
const subnetIds = z
  .array(
    z
      .string()
      .regex(/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, 'must be a subnet id like subnet-0123456789abcdef0'),
  )
  .min(2);

const networkSchema = z
  .object({
    /**
     * Import an existing VPC instead of creating one (no lookups: ids are given here).
     * `npm run preflight` checks the subnets' free addresses and, for `sandbox.egress`
     * "enforced", that the sandbox subnets have no route out.
     * @default - a new VPC is created
     */
    existingVpc: z
      .object({
        vpcId: z
          .string()
          .regex(/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/, 'must be a VPC id like vpc-0123456789abcdef0'),
        vpcCidr: z.string().regex(CIDR, 'must be a CIDR like 10.0.0.0/16'),
        /** One entry per AZ, same order as the subnet id lists. */
        availabilityZones: z.array(z.string().regex(AZ_NAME, 'must be an AZ name like eu-west-1a')).min(2),
        /** Public subnets (the internet-facing ALB). */
        publicSubnetIds: subnetIds,
        /** Private subnets with a route to a NAT (services, Lambdas, the egress gateway). */
        privateSubnetIds: subnetIds,
        /**
         * Subnets the sandbox tasks run in (one IP per sandbox). With `sandbox.egress`
         * "enforced" they must have no route out at all (no NAT, no internet gateway).
         * @default - the private subnets (only with `sandbox.egress` "advisory")
         */
        sandboxSubnetIds: subnetIds.optional(),
        /** Subnets without internet access (database). */
        isolatedSubnetIds: subnetIds,
      })
      .strict()
      .optional(),
    /** @default "10.0.0.0/16" */
    cidr: z.string().regex(CIDR, 'must be a CIDR like 10.0.0.0/16').default('10.0.0.0/16'),
    /**
     * Availability zones of a new VPC, 2 or 3, by name in the config's region. Required: names
     * are never guessed (not every region has a "b", and not every zone runs Fargate). List the
     * region's zones with `aws ec2 describe-availability-zones --region <region>` and check them
     * with `npm run preflight -- --env <name>` (it prints each zone's id).
     */
    availabilityZones: z
      .array(z.string().regex(AZ_NAME, 'must be an AZ name like eu-west-1a'))
      .min(2)
      .max(3)
      .optional(),
    /**
     * Prefix length of each sandbox subnet. Every sandbox task takes one IP: /18 gives
     * 16,379 addresses per AZ. The services, Lambdas and the egress gateway use /22 subnets.
     * @default 18
     */
    sandboxSubnetCidrMask: z.number().int().min(16).max(24).default(18),
    /**
     * `gateway`: managed NAT gateways (`natGateways` of them); `instance`: one t4g.nano NAT
     * instance with a public address (cheap, single point of failure; for dev).
     * @default "gateway" (production), "instance" (development)
     */
    nat: z.enum(['gateway', 'instance']).optional(),
    /** @default 1 (development), one per AZ (production) */
    natGateways: z.number().int().min(1).max(3).optional(),
    /**
     * Interface endpoints for ECR, CloudWatch Logs, Secrets Manager, ECS and KMS for the whole
     * VPC: keeps that traffic off the NAT (about $7.30/month per endpoint per AZ, see
     * docs/cost-model.md). With `sandbox.egress` "enforced" the ECR, Logs and Secrets Manager
     * endpoints exist anyway (sandboxes have no other way to start).
     * @default false (development), true (production)
     */
    interfaceEndpoints: z.boolean().optional(),
    /** VPC flow logs (all traffic) to CloudWatch Logs. @default true */
    flowLogs: z.boolean().default(true),
  })
  .strict();

const databaseSchema = z
  .object({
    /**
     * `aurora-serverless-v2` (Aurora PostgreSQL 17, scales by ACU) or `instance`
     * (one RDS for PostgreSQL 17 instance).
     * @default "aurora-serverless-v2"
     */
    engine: z.enum(['aurora-serverless-v2', 'instance']).default('aurora-serverless-v2'),
    /**
     * Aurora minimum capacity; 0 pauses the cluster after `autoPauseMinutes` without any
     * connection (development only; the first request after that waits ~15 s).
     * @default 0.5
     */
    minCapacityAcu: z.number().min(0).max(256).default(0.5),
    /**
     * With `minCapacityAcu` 0: minutes without any connection before Aurora pauses. The
     * platform keeps no idle connection and its schedulers skip the database when no sandbox
     * runs, so an unused environment pays storage only (docs/cost-model.md).
     * @default 5
     */
    autoPauseMinutes: z.number().int().min(5).max(1440).default(5),
    /** Aurora maximum capacity. @default 4 */
    maxCapacityAcu: z.number().min(1).max(256).default(4),
    /** Instance class for `engine: "instance"`. @default "t4g.micro" */
    instanceType: z
      .string()
      .regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'must be an instance class like t4g.micro')
      .default('t4g.micro'),
    /** Storage for `engine: "instance"`, GiB. @default 20 */
    allocatedStorageGiB: z.number().int().min(20).max(65536).default(20),
    /** Automated backup retention (0 disables backups; warns). @default 1 (development), 14 (production) */
    backupRetentionDays: z.number().int().min(0).max(35).optional(),
    /** @default false (development), true (production) */
    deletionProtection: z.boolean().optional(),
    /** Multi-AZ: an Aurora reader in a second AZ, or a Multi-AZ instance. @default false (development), true (production) */
    multiAz: z.boolean().optional(),
    /** Place the database in public subnets (warns; the security group still admits only the platform). @default false */
    publiclyAccessible: z.boolean().default(false),
    /**
     * An AWS Backup plan for the database (daily, kept 35 days; monthly, kept 1 year) in its own
     * vault, on top of the engine's automated backups.
     * @default false (development), true (production)
     */
    backupPlan: z.boolean().optional(),
  })
  .strict();

const edgeSchema = z
  .object({
    /** Internet-facing ALB, or internal (reached over VPN / Direct Connect). @default true */
    internetFacing: z.boolean().default(true),
    /** Bring your own ACM certificate (same region). @default - none */
    certificateArn: z.string().regex(ARN, 'must be an ACM certificate ARN').optional(),
    /**
     * A DNS name for the API. With `hostedZone`, a certificate is created (DNS-validated) and an
     * alias record points at the ALB.
     * @default - none: the API is reached at the ALB's DNS name
     */
    domainName: z.string().min(3).optional(),
    /** The Route 53 zone holding `domainName` (ids here, no lookups). @default - none */
    hostedZone: z
      .object({ hostedZoneId: z.string().regex(/^Z[A-Z0-9]+$/), zoneName: z.string().min(3) })
      .strict()
      .optional(),
    /** Serve plain HTTP when no certificate is configured (warns; development only). @default false */
    allowHttp: z.boolean().default(false),
    /** Source CIDRs allowed to reach the ALB. @default ["0.0.0.0/0"] */
    allowedCidrs: z
      .array(z.string().regex(CIDR, 'must be a CIDR like 203.0.113.0/24'))
      .min(1)
      .default(['0.0.0.0/0']),
    /**
     * ALB idle timeout: `send` waits for a whole agent turn and SSE streams stay open.
     * @default 3600
     */
    idleTimeoutSeconds: z.number().int().min(60).max(4000).default(3600),
    /** Regional WAF (AWS managed common + known-bad-inputs rules, per-IP rate limit). @default false (development), true (production) */
    waf: z.boolean().optional(),
    /** Requests per 5 minutes per IP before the WAF blocks. @default 2000 */
    wafRateLimitPer5Min: z.number().int().min(100).default(2000),
    /**
     * WAF request logs to CloudWatch Logs (`aws-waf-logs-lap-<env>`), the Authorization header
     * redacted. Only with `waf`.
     * @default false (development), true (production)
     */
    wafLogging: z.boolean().optional(),
  })
  .strict();

const serviceSchema = (defaults: { cpu: number; memoryMiB: number }) =>
  z
    .object({
      /** @default see the service */
      cpu: fargateSize.cpu.default(defaults.cpu as 256),
      /** @default see the service */
      memoryMiB: fargateSize.memoryMiB.default(defaults.memoryMiB),
    })
    .strict();

const platformSchema = z
  .object({
    /** CPU architecture of every image and task. @default "x86_64" */
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    /**
     * `combined`: one service runs the API and the worker in one task (`PLATFORM_ROLE=all`), the
     * cheapest shape, for development: the internet-facing task then holds the worker's rights.
     * `split`: a web service (API, behind the ALB) and a worker service (sandbox launches and
     * callbacks), each with its own role and security group.
     * @default "combined" (development), "split" (production)
     */
    services: z.enum(['combined', 'split']).optional(),
    /** The one service of `services: "combined"`. cpu 256, memoryMiB 1024. */
    combined: serviceSchema({ cpu: 256, memoryMiB: 1024 }).prefault({}),
    /**
     * Fargate capacity of the platform services (and the egress gateway): `spot` costs ~70% less
     * and may be interrupted with 2 minutes' notice (ECS starts a replacement).
     * @default "spot" (development), "on-demand" (production)
     */
    capacity: z.enum(['on-demand', 'spot']).optional(),
    /**
     * Longest pause of the job runner between polls of an empty queue (JOB_POLL_IDLE_MAX_MS): it
     * polls every second while there is work, then backs off to this. With `services:
     * "combined"` the API wakes the runner in-process, so a long pause lets the database pause.
     * @default 21600000 (6 h, combined), 1000 (split: the web service cannot wake the worker yet)
     */
    jobPollIdleMaxMs: z.number().int().min(1000).max(86_400_000).optional(),
    /** Web service (REST API, SSE). cpu 512, memoryMiB 1024. */
    web: serviceSchema({ cpu: 512, memoryMiB: 1024 })
      .extend({
        /** @default 1 (development), 2 (production) */
        minTasks: z.number().int().min(1).optional(),
        /** @default 4 */
        maxTasks: z.number().int().min(1).default(4),
        /** Scale out above this average CPU. @default 60 */
        targetCpuPercent: z.number().int().min(10).max(90).default(60),
      })
      .strict()
      .prefault({}),
    /** Worker service (bring-up jobs, sandbox traffic). cpu 512, memoryMiB 1024. */
    worker: serviceSchema({ cpu: 512, memoryMiB: 1024 })
      .extend({
        /** @default 1 */
        tasks: z.number().int().min(1).default(1),
      })
      .strict()
      .prefault({}),
    /** Warm sandboxes kept per recently used agent. @default 2 */
    warmPoolSize: z.number().int().min(0).default(2),
    /** @default 24 */
    warmPoolRecentAgentHours: z.number().int().min(1).default(24),
    /** @default 2 */
    warmPoolMaxProvisioning: z.number().int().min(1).default(2),
    /** @default 30 */
    warmPoolTtlMinutes: z.number().int().min(1).default(30),
    /** @default 600000 */
    sessionCreatingTimeoutMs: z.number().int().min(10_000).default(600_000),
    /** @default "info" */
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    /** A git repository URL cloned when an agent has no repo_url. @default - none */
    preinstalledGithubRepo: z
      .url({ message: 'must be a git repository URL, e.g. https://github.com/org/repo' })
      .optional(),
    /**
     * Retention of every log group. Production also keeps the log groups when the stack is
     * deleted (RemovalPolicy RETAIN_ON_UPDATE_OR_DELETE).
     * @default 30 (development), 365 (production)
     */
    logRetentionDays: logRetention.optional(),
  })
  .strict();

const sandboxSchema = z
  .object({
    /** Harnesses that get a task definition. @default all four */
    harnesses: z
      .array(z.enum(HARNESSES))
      .min(1)
      .default([...HARNESSES]),
    /** Size of every sandbox task. cpu 1024, memoryMiB 2048. */
    ...serviceSchema({ cpu: 1024, memoryMiB: 2048 }).shape,
    /** Task ephemeral storage, GiB (repository clones, dependencies). @default 30 */
    ephemeralStorageGiB: z.number().int().min(21).max(200).default(30),
    /** @default "spot-with-fallback" (development), "on-demand" (production) */
    capacity: z.enum(['spot-with-fallback', 'on-demand', 'spot']).optional(),
    /**
     * `enforced`: sandboxes run in subnets without any route out; their only way to the
     * internet is the egress gateway (a Fargate service that forwards only connections
     * authenticated with a per-sandbox token that only the vault holds), and their security
     * group reaches only the gateway, the VPC endpoints Fargate needs to start them, the VPC
     * DNS resolver and the worker's internal port. `advisory`: sandboxes reach the internet
     * through the NAT on 80/443 and the vault's allow_out/deny_out are advice an agent can
     * bypass by ignoring HTTPS_PROXY (synth warns); cheaper (no gateway task, no endpoints).
     * @default "enforced" (production), "advisory" (development)
     */
    egress: z.enum(['enforced', 'advisory']).optional(),
    /** The egress gateway of `egress: "enforced"`. */
    egressGateway: z
      .object({
        ...serviceSchema({ cpu: 256, memoryMiB: 512 }).shape,
        /** @default 1 (development), 2 (production) */
        tasks: z.number().int().min(1).max(10).optional(),
        /** Destination ports the gateway forwards to (EGRESS_GATEWAY_ALLOWED_PORTS). @default [443, 80] */
        allowedPorts: z.array(z.number().int().min(1).max(65535)).min(1).default([443, 80]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** A complete Secrets Manager secret ARN (with the 6-character suffix): the execution role is granted exactly it. */
const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

const gitSchema = z
  .object({
    /**
     * Existing Secrets Manager secret holding the git token (plain string, e.g. a GitHub
     * fine-grained token with read access to the agents' repositories). The vault swaps it in for
     * the harness's stub GIT_TOKEN on requests to `hosts` only; the harness never holds it.
     * @default - none: only public repositories can be cloned
     */
    tokenSecretArn: z
      .string()
      .regex(
        SECRET_ARN,
        'must be the complete ARN of a Secrets Manager secret, e.g. arn:aws:secretsmanager:us-east-1:123456789012:secret:lap/git-token-AbCdEf (see docs/deploy.md, "Private repositories")',
      )
      .optional(),
    /**
     * Hosts the git token may be sent to (host, `*.domain`, IP or CIDR).
     * @default ["github.com"]
     */
    hosts: z
      .array(
        // The vault's own rule parser: what passes here is what the vault accepts in HOST_GIT_TOKEN.
        z.string().superRefine((host, ctx) => {
          try {
            parseDestinationRule(host);
          } catch (error) {
            ctx.addIssue({
              code: 'custom',
              message: `must be a host like github.com, *.example.com, an IP address or a CIDR block: ${(error as Error).message}`,
            });
          }
        }),
      )
      .min(1)
      .default(['github.com']),
  })
  .strict();

const imagesSchema = z
  .object({
    /** Prebuilt control-plane image (e.g. a private ECR mirror). @default - built from platform/Dockerfile */
    platform: z.string().regex(IMAGE_URI, 'must be an image URI with a tag or digest').optional(),
    /** Prebuilt vault image. @default - built from sandbox/vault/Dockerfile */
    vault: z.string().regex(IMAGE_URI, 'must be an image URI with a tag or digest').optional(),
    /** Prebuilt egress gateway image. @default - built from sandbox/egress-gateway/Dockerfile */
    egressGateway: z.string().regex(IMAGE_URI, 'must be an image URI with a tag or digest').optional(),
    /** Prebuilt harness images by harness. @default - built from sandbox/harness/Dockerfile */
    harness: z
      .partialRecord(
        z.enum(HARNESSES),
        z.string().regex(IMAGE_URI, 'must be an image URI with a tag or digest'),
      )
      .optional(),
  })
  .strict();

/** `sandbox.egress` or its default: "enforced" in production, "advisory" in development. */
function sandboxEgress(c: {
  production: boolean;
  sandbox: z.output<typeof sandboxSchema>;
}): NonNullable<z.output<typeof sandboxSchema>['egress']> {
  return c.sandbox.egress ?? (c.production ? 'enforced' : 'advisory');
}

/** `edge.waf` or its default: on in production. */
function edgeWaf(c: { production: boolean; edge: z.output<typeof edgeSchema> }): boolean {
  return c.edge.waf ?? c.production;
}

export const deploymentConfigSchema = z
  .object({
    /** AWS account. Omit for an environment-agnostic app (deploys to your credentials' account). @default - none */
    account: z.string().regex(ACCOUNT, 'must be a 12-digit AWS account id').optional(),
    /** @default "us-east-1" */
    region: z.string().regex(REGION, 'must be a region like eu-west-1').default('us-east-1'),
    /** Production profile: turns on the safe defaults noted `(production)` on each field. @default false */
    production: z.boolean().default(false),
    /** The LiteLLM gateway every sandbox talks to, e.g. https://litellm.example.com. Required. */
    litellmApiBase: z.url({
      message: 'must be the URL of your LiteLLM gateway, e.g. https://litellm.example.com',
    }),
    /**
     * Existing Secrets Manager secret holding the gateway key (plain string).
     * @default - an empty secret is created; fill it with the command in the stack outputs
     */
    gatewayKeySecretArn: z.string().regex(ARN, 'must be a Secrets Manager secret ARN').optional(),
    /** Email subscribed to the alarm topic. @default - none */
    alarmEmail: z.email({ message: 'must be an email address' }).optional(),
    /** Tags on every resource. @default {} */
    tags: z.record(z.string(), z.string()).default({}),
    network: networkSchema.prefault({}),
    database: databaseSchema.prefault({}),
    edge: edgeSchema.prefault({}),
    platform: platformSchema.prefault({}),
    sandbox: sandboxSchema.prefault({}),
    images: imagesSchema.prefault({}),
    /** Private repositories: the git token sandboxes clone with. @default - public repositories only */
    git: gitSchema.prefault({}),
    monitoring: z
      .object({
        /** The CloudWatch dashboard ($3/month). @default false (development), true (production) */
        dashboard: z.boolean().optional(),
        /**
         * ECS Container Insights on the cluster (billed as custom metrics, see
         * docs/cost-model.md); the alarms do not need it.
         * @default false (development), true (production)
         */
        containerInsights: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
    iam: z
      .object({
        /**
         * Name of the IAM managed policy set as permissions boundary on every role the stack
         * creates: required when the account was bootstrapped with the least-privilege
         * execution policy (`npm run bootstrap -- --least-privilege`, docs/deploy.md), whose
         * CloudFormation role may create roles only with this boundary.
         * @default - no boundary (bootstrap with AdministratorAccess)
         */
        permissionsBoundary: z
          .string()
          .regex(/^[\w+=,.@-]{1,128}$/, 'must be an IAM policy name like lap-permissions-boundary')
          .optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const sizes: Array<[string[], { cpu: number; memoryMiB: number }]> = [
      [['platform', 'web'], c.platform.web],
      [['platform', 'worker'], c.platform.worker],
      [['platform', 'combined'], c.platform.combined],
      [['sandbox'], c.sandbox],
      [['sandbox', 'egressGateway'], c.sandbox.egressGateway],
    ];
    for (const [at, size] of sizes) {
      const [min, max] = FARGATE_MEMORY[size.cpu]!;
      // Fargate: 512 is allowed with 0.25 vCPU only; otherwise whole GiB within the range.
      const halfGiB = size.cpu === 256 && size.memoryMiB === 512;
      if (!halfGiB && (size.memoryMiB < min || size.memoryMiB > max || size.memoryMiB % 1024 !== 0)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'memoryMiB'],
          message: `must be ${size.cpu === 256 ? '512 or ' : ''}a multiple of 1024 between ${Math.max(min, 1024)} and ${max} for cpu ${size.cpu}`,
        });
      }
    }
    if (
      c.database.engine === 'aurora-serverless-v2' &&
      c.database.minCapacityAcu > c.database.maxCapacityAcu
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'minCapacityAcu'],
        message: 'must not exceed maxCapacityAcu',
      });
    }
    if (c.database.engine === 'aurora-serverless-v2' && c.database.backupRetentionDays === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'backupRetentionDays'],
        message:
          'Aurora always keeps at least 1 day of backups: use 1 or more (0 is only possible with engine "instance")',
      });
    }
    if (c.database.minCapacityAcu === 0 && c.production) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'minCapacityAcu'],
        message: 'scale to zero (0) is for development: use at least 0.5 when production is true',
      });
    }
    const hasCertificate = c.edge.certificateArn !== undefined || c.edge.hostedZone !== undefined;
    if (
      c.edge.domainName !== undefined &&
      c.edge.certificateArn === undefined &&
      c.edge.hostedZone === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['edge', 'hostedZone'],
        message:
          'is required with domainName unless certificateArn is set (the certificate is validated in it)',
      });
    }
    if (c.edge.hostedZone !== undefined && c.edge.domainName === undefined) {
      ctx.addIssue({ code: 'custom', path: ['edge', 'domainName'], message: 'is required with hostedZone' });
    }
    if (!hasCertificate && !c.edge.allowHttp) {
      ctx.addIssue({
        code: 'custom',
        path: ['edge', 'certificateArn'],
        message:
          'HTTPS needs a certificate: set edge.certificateArn, or edge.domainName + edge.hostedZone, or edge.allowHttp: true for plain HTTP',
      });
    }
    if (c.platform.web.minTasks !== undefined && c.platform.web.minTasks > c.platform.web.maxTasks) {
      ctx.addIssue({
        code: 'custom',
        path: ['platform', 'web', 'minTasks'],
        message: 'must not exceed maxTasks',
      });
    }
    const existing = c.network.existingVpc;
    const egress = sandboxEgress(c);
    if (!existing && c.network.availabilityZones === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'availabilityZones'],
        message: `is required: list 2 or 3 zones of ${c.region}, e.g. from \`aws ec2 describe-availability-zones --region ${c.region} --query "AvailabilityZones[?ZoneType=='availability-zone'].ZoneName"\`, then check them with \`npm run preflight\``,
      });
    }
    const zones: Array<[string[], string[] | undefined]> = [
      [['network', 'availabilityZones'], c.network.availabilityZones],
      [['network', 'existingVpc', 'availabilityZones'], existing?.availabilityZones],
    ];
    for (const [at, names] of zones) {
      (names ?? []).forEach((name, i) => {
        if (!name.startsWith(c.region)) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, i],
            message: `"${name}" is not a zone of the config's region ${c.region}`,
          });
        }
      });
      if (names && new Set(names).size !== names.length) {
        ctx.addIssue({ code: 'custom', path: at, message: 'must not list a zone twice' });
      }
    }
    if (existing && egress === 'enforced' && existing.sandboxSubnetIds === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'existingVpc', 'sandboxSubnetIds'],
        message:
          'is required with sandbox.egress "enforced": subnets without any route out (no NAT, no internet gateway), one per zone; or set sandbox.egress "advisory"',
      });
    }
    if (c.edge.wafLogging && !edgeWaf(c)) {
      ctx.addIssue({ code: 'custom', path: ['edge', 'wafLogging'], message: 'needs edge.waf true' });
    }
    if (existing) {
      const azs = existing.availabilityZones.length;
      for (const key of [
        'publicSubnetIds',
        'privateSubnetIds',
        'sandboxSubnetIds',
        'isolatedSubnetIds',
      ] as const) {
        if (existing[key] !== undefined && existing[key].length !== azs) {
          ctx.addIssue({
            code: 'custom',
            path: ['network', 'existingVpc', key],
            message: `must list one subnet per availability zone (${azs})`,
          });
        }
      }
    }
  });

/** What a user writes in config/<env>.json. */
export type DeploymentConfigInput = z.input<typeof deploymentConfigSchema>;
type Parsed = z.output<typeof deploymentConfigSchema>;

/** The resolved configuration: every default applied. */
export interface DeploymentConfig extends Omit<
  Parsed,
  'network' | 'database' | 'edge' | 'platform' | 'sandbox' | 'monitoring'
> {
  /** Environment name (file name), part of every stack and resource name. */
  envName: string;
  network: Parsed['network'] & {
    availabilityZones: string[];
    nat: NonNullable<Parsed['network']['nat']>;
    natGateways: number;
    interfaceEndpoints: boolean;
  };
  database: Parsed['database'] & {
    backupRetentionDays: number;
    deletionProtection: boolean;
    multiAz: boolean;
    backupPlan: boolean;
  };
  edge: Parsed['edge'] & { waf: boolean; wafLogging: boolean; https: boolean };
  platform: Parsed['platform'] & {
    web: Parsed['platform']['web'] & { minTasks: number };
    services: NonNullable<Parsed['platform']['services']>;
    capacity: NonNullable<Parsed['platform']['capacity']>;
    jobPollIdleMaxMs: number;
    logRetentionDays: number;
  };
  sandbox: Parsed['sandbox'] & {
    capacity: NonNullable<Parsed['sandbox']['capacity']>;
    egress: NonNullable<Parsed['sandbox']['egress']>;
    egressGateway: Parsed['sandbox']['egressGateway'] & { tasks: number };
  };
  monitoring: { dashboard: boolean; containerInsights: boolean };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** For CDK apps: a bad config ends the process with its message (every bad field), not a stack trace. */
export function exitOnConfigError<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** Validates raw config and applies every default. Throws ConfigError naming each bad field. */
export function resolveConfig(
  envName: string,
  input: unknown,
  source = `config/${envName}.json`,
): DeploymentConfig {
  if (!ENV_NAME.test(envName)) {
    throw new ConfigError(
      `Invalid environment name "${envName}": use lowercase letters, digits and dashes (max 20), starting with a letter`,
    );
  }
  const parsed = deploymentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : '(root)';
      return `  - ${field}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid deployment config ${source}:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const prod = c.production;
  // Checked by the schema: a new VPC names its zones, an imported one brings them.
  const azs = (c.network.existingVpc?.availabilityZones ?? c.network.availabilityZones)!;
  const services = c.platform.services ?? (prod ? 'split' : 'combined');
  const waf = edgeWaf(c);
  return {
    ...c,
    envName,
    network: {
      ...c.network,
      availabilityZones: azs,
      nat: c.network.nat ?? (prod ? 'gateway' : 'instance'),
      natGateways: c.network.natGateways ?? (prod ? azs.length : 1),
      interfaceEndpoints: c.network.interfaceEndpoints ?? prod,
    },
    database: {
      ...c.database,
      backupRetentionDays: c.database.backupRetentionDays ?? (prod ? 14 : 1),
      deletionProtection: c.database.deletionProtection ?? prod,
      multiAz: c.database.multiAz ?? prod,
      backupPlan: c.database.backupPlan ?? prod,
    },
    edge: {
      ...c.edge,
      waf,
      wafLogging: waf && (c.edge.wafLogging ?? prod),
      https: c.edge.certificateArn !== undefined || c.edge.hostedZone !== undefined,
    },
    platform: {
      ...c.platform,
      web: { ...c.platform.web, minTasks: c.platform.web.minTasks ?? (prod ? 2 : 1) },
      services,
      capacity: c.platform.capacity ?? (prod ? 'on-demand' : 'spot'),
      jobPollIdleMaxMs: c.platform.jobPollIdleMaxMs ?? (services === 'combined' ? 21_600_000 : 1000),
      logRetentionDays: c.platform.logRetentionDays ?? (prod ? 365 : 30),
    },
    sandbox: {
      ...c.sandbox,
      capacity: c.sandbox.capacity ?? (prod ? 'on-demand' : 'spot-with-fallback'),
      egress: sandboxEgress(c),
      egressGateway: { ...c.sandbox.egressGateway, tasks: c.sandbox.egressGateway.tasks ?? (prod ? 2 : 1) },
    },
    monitoring: {
      dashboard: c.monitoring.dashboard ?? prod,
      containerInsights: c.monitoring.containerInsights ?? prod,
    },
  };
}

/** Reads and resolves `config/<envName>.json` under `configDir`. */
export function loadConfig(
  envName: string,
  configDir = path.join(__dirname, '..', 'config'),
): DeploymentConfig {
  const file = path.join(configDir, `${envName}.json`);
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(configDir)
      ? fs
          .readdirSync(configDir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => f.replace(/\.json$/, ''))
      : [];
    throw new ConfigError(
      `No config for environment "${envName}": create ${path.relative(process.cwd(), file)} (known: ${known.join(', ') || 'none'}); see docs/new-environment.md`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config/${envName}.json is not valid JSON: ${(err as Error).message}`);
  }
  return resolveConfig(envName, raw, `config/${envName}.json`);
}
