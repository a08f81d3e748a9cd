import { CfnOutput, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { ApiEndpoint } from '../constructs/api-endpoint';
import { ContainerImages } from '../constructs/container-images';
import { DatabaseMigrations } from '../constructs/database-migrations';
import { EgressGateway } from '../constructs/egress-gateway';
import { FunctionSchedule } from '../constructs/function-schedule';
import { Monitoring } from '../constructs/monitoring';
import { DATABASE_NAME, DATABASE_USER } from '../constructs/platform-database';
import { PlatformFunction } from '../constructs/platform-function';
import {
  PlatformServices,
  WORKER_SERVICE_NAME,
  type PlatformServiceEnvironment,
} from '../constructs/platform-services';
import { SandboxAccess } from '../constructs/sandbox-access';
import { SandboxTaskDefinitions } from '../constructs/sandbox-task-definitions';
import type { SecurityPerimeter } from '../constructs/security-perimeter';
import { PORTS } from '../constructs/security-perimeter';
import { TaskStateEvents } from '../constructs/task-state-events';
import { SUBNETS } from '../constructs/vpc-network';
import type {
  FunctionEnvironment,
  functionDatabaseEnvSchema,
  functionEnvSchema,
  idleReaperFunctionEnvSchema,
  migrateFunctionEnvSchema,
  taskEventsFunctionEnvSchema,
  warmPoolFunctionEnvSchema,
} from '../../lambda/shared/settings';
import type { AwsPlatformEnvironment } from '../../platform/src/config/platform-env';
import type { EcsSandboxEnvironment } from '../../platform/src/sandbox/ecs/settings';
import type { Data } from './data';

export interface PlatformProps {
  config: DeploymentConfig;
  vpc: ec2.IVpc;
  securityGroups: SecurityPerimeter;
  data: Data;
  /** Of the log groups. */
  removalPolicy: RemovalPolicy;
}

/**
 * Everything stateless: the ECS cluster, the platform services, the ALB, the sandbox task
 * definitions, the egress gateway, the Lambdas (warm pool, idle reaper, task events,
 * migrations) and monitoring.
 */
export class Platform extends Construct {
  constructor(scope: Construct, id: string, props: PlatformProps) {
    super(scope, id);
    const { config, vpc, securityGroups: sg, data, removalPolicy } = props;
    const stack = Stack.of(this);
    const envName = config.envName;
    const logRetentionDays = config.platform.logRetentionDays;
    const enforced = config.sandbox.egress === 'enforced';
    const vpcCidr = config.network.existingVpc?.vpcCidr ?? config.network.cidr;

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: config.monitoring.containerInsights
        ? ecs.ContainerInsights.ENABLED
        : ecs.ContainerInsights.DISABLED,
    });
    if (!config.monitoring.containerInsights) {
      Validations.of(cluster).acknowledge({
        id: 'AwsSolutions-ECS4',
        reason:
          'Container Insights is off by configuration (monitoring.containerInsights false, the development default: it is billed as custom metrics); the alarms use the free AWS/ECS metrics.',
      });
    }
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `lap-${envName}.internal`,
      vpc,
      description: `LAP ${envName}: internal names (the worker's internal port, the egress gateway)`,
    });
    const callbackHost = `${WORKER_SERVICE_NAME}.${namespace.namespaceName}`;
    // The workers' internal listener: sandbox callbacks, and the web's and warm pool's calls.
    const workerInternalUrl = `http://${callbackHost}:${PORTS.platformInternal}`;
    const images = new ContainerImages(this, 'Images', {
      images: config.images,
      architecture: config.platform.architecture,
    });

    const egressGateway = enforced
      ? new EgressGateway(this, 'EgressGateway', {
          cluster,
          securityGroup: sg.egressGateway!,
          image: images.egressGateway,
          gateway: config.sandbox.egressGateway,
          architecture: config.platform.architecture,
          capacity: config.platform.capacity,
          namespace,
          tlsCertificate: data.vaultCa.egressGateway!.certificate,
          tlsPrivateKey: data.vaultCa.egressGateway!.privateKey,
          tokenKey: data.secrets.egressTokenKey!,
          // The VPC itself: sandboxes reach the platform directly, never through the gateway.
          denyCidrs: [vpcCidr],
          logRetentionDays,
          removalPolicy,
        })
      : undefined;

    const sandboxes = new SandboxTaskDefinitions(this, 'Sandboxes', {
      envName,
      sandbox: config.sandbox,
      architecture: config.platform.architecture,
      images,
      gatewayKey: data.secrets.gatewayKey,
      vaultCaCertificate: data.vaultCa.certificate,
      vaultCaPrivateKey: data.vaultCa.privateKey,
      litellmApiBase: config.litellmApiBase,
      git: config.git,
      callbackHost,
      egressGatewayEndpoint: egressGateway?.endpoint,
      internalCidrs: [vpcCidr],
      logRetentionDays,
      removalPolicy,
    });
    const access = new SandboxAccess(cluster, sandboxes, envName);

    const endpoint = new ApiEndpoint(this, 'Api', {
      envName,
      production: config.production,
      edge: config.edge,
      vpc,
      securityGroup: sg.loadBalancer,
      logRetentionDays,
      removalPolicy,
    });

    // The platform services' environment (platform/src/config/platform-env.ts), plain settings
    // only: the secrets go through ECS secrets below, the role and port are each service's own.
    const database = {
      DB_HOST: data.database.host,
      DB_PORT: data.database.port,
      DB_NAME: DATABASE_NAME,
      DB_SSL: 'require',
      // The password: read from the RDS-managed secret (the task or function role) for each new
      // connection, so a rotation needs no restart.
      DB_SECRET_ARN: data.database.secret.secretArn,
    } satisfies FunctionEnvironment<typeof functionDatabaseEnvSchema>;
    const launcher = {
      SANDBOX_CLUSTER_ARN: cluster.clusterArn,
      SANDBOX_SUBNET_IDS: vpc.selectSubnets({ subnetGroupName: SUBNETS.sandbox }).subnetIds.join(','),
      SANDBOX_SECURITY_GROUP_ID: sg.sandbox.securityGroupId,
      SANDBOX_TASK_DEFINITIONS: JSON.stringify(sandboxes.families),
      SANDBOX_CAPACITY: config.sandbox.capacity,
      SANDBOX_ENVIRONMENT: envName,
      SANDBOX_LOG_GROUP: sandboxes.logGroup.logGroupName,
      SANDBOX_EXECUTION_ROLE_ARN: sandboxes.executionRole.roleArn,
      SANDBOX_TASK_ROLE_ARN: sandboxes.taskRole.roleArn,
    } satisfies EcsSandboxEnvironment;
    const warmPoolSettings = {
      WARM_POOL_SIZE: `${config.platform.warmPoolSize}`,
      WARM_POOL_RECENT_AGENT_HOURS: `${config.platform.warmPoolRecentAgentHours}`,
      WARM_POOL_MAX_PROVISIONING: `${config.platform.warmPoolMaxProvisioning}`,
      WARM_POOL_TTL_MINUTES: `${config.platform.warmPoolTtlMinutes}`,
    } satisfies Partial<AwsPlatformEnvironment>;
    const creatingTimeout = {
      SESSION_CREATING_TIMEOUT_MS: `${config.platform.sessionCreatingTimeoutMs}`,
    } satisfies Partial<AwsPlatformEnvironment>;
    const serviceEnvironment = {
      ...database,
      ...launcher,
      ...warmPoolSettings,
      ...creatingTimeout,
      DB_USER: DATABASE_USER,
      SECRET_STORE: 'kms',
      KMS_KEY_ARN: data.secrets.agentSecretsKey.keyArn,
      SANDBOX_LAUNCHER: 'ecs',
      LITELLM_API_BASE: config.litellmApiBase,
      // The worker's internal port: sandbox callbacks and web -> worker calls, never behind the ALB.
      INTERNAL_PORT: `${PORTS.platformInternal}`,
      CALLBACK_URL: workerInternalUrl,
      // The web role hands sessions with per-session env vars to a worker there, and pokes it.
      WORKER_INTERNAL_URL: workerInternalUrl,
      BASE_URL: endpoint.url,
      LOG_LEVEL: config.platform.logLevel,
      // How long the job runner may sleep on an empty queue (the database pauses meanwhile).
      JOB_POLL_IDLE_MAX_MS: `${config.platform.jobPollIdleMaxMs}`,
      // The RDS CA bundle the platform image ships (DB_SSL=require verifies the certificate).
      NODE_EXTRA_CA_CERTS: PLATFORM_IMAGE_RDS_CA_BUNDLE,
      ...(config.platform.preinstalledGithubRepo
        ? { PREINSTALLED_GITHUB_REPO: config.platform.preinstalledGithubRepo }
        : {}),
    } satisfies PlatformServiceEnvironment;

    // The web role (internet-facing) observes and stops sandboxes and only encrypts: it cannot
    // launch one (RunTask with overrides, PassRole of the execution role that reads the vault's
    // secrets), read what sandboxes log, or decrypt agent secrets. The worker role does all that.
    const webRole = new iam.Role(this, 'WebTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'LAP web service: observe and stop sandboxes, encrypt agent secrets',
    });
    access.grantObserve(webRole);
    access.grantStop(webRole);
    data.secrets.grantAgentSecrets(webRole, 'encrypt');
    data.database.secret.grantRead(webRole);
    const workerRole = new iam.Role(this, 'WorkerTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        'LAP worker service: launch, observe and stop sandboxes, read their logs, use the agent secrets key',
    });
    access.grantObserve(workerRole);
    access.grantReadLogs(workerRole);
    access.grantStop(workerRole);
    access.grantLaunch(workerRole);
    data.secrets.grantAgentSecrets(workerRole, 'encrypt-decrypt');
    data.database.secret.grantRead(workerRole);

    const services = new PlatformServices(this, 'Services', {
      cluster,
      vpc,
      image: images.platform,
      platform: config.platform,
      environment: serviceEnvironment,
      secrets: {
        MASTER_KEY: ecs.Secret.fromSecretsManager(data.secrets.platform, 'MASTER_KEY'),
        HARNESS_TOKEN_SIGNING_KEY: ecs.Secret.fromSecretsManager(data.secrets.harnessTokenSigningKey),
        VAULT_CA_CERT: ecs.Secret.fromSecretsManager(data.vaultCa.certificate),
      },
      workerSecrets: data.secrets.egressTokenKey
        ? { EGRESS_TOKEN_KEY: ecs.Secret.fromSecretsManager(data.secrets.egressTokenKey) }
        : {},
      namespace,
      roles: { web: webRole, worker: workerRole },
      securityGroups: { web: sg.web, worker: sg.worker },
      logRetentionDays,
      removalPolicy,
    });
    const targetGroup = endpoint.serve(services.api.service);

    // The Lambdas: each function's own environment (lambda/shared/settings.ts), the database
    // credentials read from the RDS secret at cold start.
    const functionBase = {
      ...database,
      LOG_LEVEL: config.platform.logLevel,
      METRICS_NAMESPACE: 'LAP',
      SANDBOX_ENVIRONMENT: envName,
      // The RDS CA bundle of the Node.js runtime, for DB_SSL=require with certificate verification.
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    } satisfies FunctionEnvironment<typeof functionEnvSchema>;
    const fn = (
      handlerName: string,
      description: string,
      timeout: Duration,
      environment: Record<string, string>,
      extra: Partial<ConstructorParameters<typeof PlatformFunction>[2]> = {},
    ) =>
      new PlatformFunction(this, handlerName, {
        handlerName,
        description: `LAP ${envName}: ${description}`,
        vpc,
        securityGroup: sg.functions,
        environment,
        readableSecrets: [data.database.secret],
        timeout,
        logRetentionDays,
        removalPolicy,
        architecture: lambda.Architecture.ARM_64,
        ...extra,
      });
    // The warm pool plans top-ups (the worker brings them up) and stops expired ones: no launch rights.
    const warmPool = fn(
      'warm-pool',
      'plans warm sandboxes for recently used agents, recycles expired ones',
      Duration.seconds(55),
      {
        ...functionBase,
        ...launcher,
        ...warmPoolSettings,
        // It pokes a worker after planning, so an idle worker brings the new ones up at once.
        WORKER_INTERNAL_URL: workerInternalUrl,
      } satisfies FunctionEnvironment<typeof warmPoolFunctionEnvSchema>,
    );
    access.grantObserve(warmPool.function);
    access.grantStop(warmPool.function);
    const reaperEvery = Duration.minutes(5);
    const idleReaper = fn(
      'idle-reaper',
      'stops idle sessions, creating timeouts, orphan and stale tasks',
      Duration.minutes(4),
      {
        ...functionBase,
        ...launcher,
        ...creatingTimeout,
        SCHEDULE_EVERY_MINUTES: `${reaperEvery.toMinutes()}`,
      } satisfies FunctionEnvironment<typeof idleReaperFunctionEnvSchema>,
    );
    access.grantObserve(idleReaper.function);
    access.grantStop(idleReaper.function);
    const taskEvents = fn('task-events', 'marks sessions whose sandbox task stopped', Duration.seconds(30), {
      ...functionBase,
      SANDBOX_CLUSTER_ARN: cluster.clusterArn,
    } satisfies FunctionEnvironment<typeof taskEventsFunctionEnvSchema>);
    const migrate = fn(
      'migrate',
      'applies database migrations during the deploy',
      Duration.minutes(10),
      functionBase satisfies FunctionEnvironment<typeof migrateFunctionEnvSchema>,
      { copyIntoBundle: { 'platform/src/db/migrations': 'migrations' } },
    );

    new FunctionSchedule(this, 'WarmPoolSchedule', {
      target: warmPool.function,
      every: Duration.minutes(1),
      description: `LAP ${envName}: warm pool top-up and TTL recycle`,
    });
    new FunctionSchedule(this, 'IdleReaperSchedule', {
      target: idleReaper.function,
      every: reaperEvery,
      description: `LAP ${envName}: idle reaper`,
    });
    const taskStateEvents = new TaskStateEvents(this, 'TaskStateEvents', {
      cluster,
      target: taskEvents.function,
    });
    new DatabaseMigrations(this, 'Migrations', {
      handler: migrate.function,
      executeBefore: [...services.all.map((s) => s.service), warmPool, idleReaper, taskEvents],
    });

    new Monitoring(this, 'Monitoring', {
      envName,
      alarmEmail: config.alarmEmail,
      loadBalancer: endpoint.loadBalancer,
      targetGroup,
      api: services.api.service,
      worker: services.worker.service,
      egressGateway: egressGateway?.service,
      functions: {
        'warm-pool': warmPool.function,
        'idle-reaper': idleReaper.function,
        'task-events': taskEvents.function,
        migrate: migrate.function,
      },
      // Only the worker launches sandboxes.
      launcherLogGroups: [services.worker.logGroup],
      taskEventsDeadLetterQueue: taskStateEvents.deadLetterQueue,
      database: {
        ...data.database.metrics,
        maxConnections: estimatedMaxConnections(config.database),
      },
      dashboard: config.monitoring.dashboard,
    });

    new CfnOutput(stack, 'ApiUrl', {
      description: 'The LAP API (BASE_URL for the SDK and `lap login`)',
      value: endpoint.url,
    });
    new CfnOutput(stack, 'TailLogsCommand', {
      description: 'Follows the control-plane logs',
      value: `aws logs tail --region ${stack.region} --follow ${services.all.map((s) => s.logGroup.logGroupName).join(' ')}`,
    });
    new CfnOutput(stack, 'TailSandboxLogsCommand', {
      description: 'Follows the sandbox logs (harness and vault containers)',
      value: `aws logs tail --region ${stack.region} --follow ${sandboxes.logGroup.logGroupName}`,
    });
    if (egressGateway) {
      new CfnOutput(stack, 'TailEgressLogsCommand', {
        description: 'Follows the egress gateway log (one JSON line per forwarded or refused connection)',
        value: `aws logs tail --region ${stack.region} --follow ${egressGateway.logGroup.logGroupName}`,
      });
    }
  }
}

/** Where platform/Dockerfile puts the Amazon RDS CA bundle (truststore.pki.rds.amazonaws.com/global/global-bundle.pem). */
const PLATFORM_IMAGE_RDS_CA_BUNDLE = '/app/rds-ca.pem';

/** 80% of PostgreSQL's max_connections default for the configured size (alarm threshold). */
function estimatedMaxConnections(db: DeploymentConfig['database']): number {
  if (db.engine === 'aurora-serverless-v2') {
    // Aurora PostgreSQL: LEAST(DBInstanceClassMemory / 9531392, 5000), memory = 2 GiB per ACU.
    return Math.floor(0.8 * Math.min(5000, (db.maxCapacityAcu * 2 * 1024 ** 3) / 9_531_392));
  }
  // RDS PostgreSQL defaults: ~80 on a micro, far more on larger classes; the micro is the floor.
  return 80;
}
