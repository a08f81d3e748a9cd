import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { ApiEndpoint } from '../constructs/api-endpoint';
import { ContainerImages } from '../constructs/container-images';
import { DatabaseMigrations } from '../constructs/database-migrations';
import { FunctionSchedule } from '../constructs/function-schedule';
import { Monitoring } from '../constructs/monitoring';
import { DATABASE_NAME, DATABASE_USER } from '../constructs/platform-database';
import { PlatformFunction } from '../constructs/platform-function';
import { PlatformServices } from '../constructs/platform-services';
import { SandboxAccess } from '../constructs/sandbox-access';
import { SandboxTaskDefinitions } from '../constructs/sandbox-task-definitions';
import type { SecurityPerimeter } from '../constructs/security-perimeter';
import { PORTS } from '../constructs/security-perimeter';
import { TaskStateEvents } from '../constructs/task-state-events';
import type { DataStack } from './data-stack';

export interface PlatformStackProps extends EnvironmentStackProps {
  vpc: ec2.IVpc;
  securityGroups: SecurityPerimeter;
  data: DataStack;
}

/**
 * Everything stateless: the ECS cluster, the web and worker services, the ALB, the sandbox task
 * definitions, the Lambdas (warm pool, idle reaper, task events, migrations) and monitoring.
 * Safe to destroy and redeploy; state lives in the data stack.
 */
export class PlatformStack extends EnvironmentStack {
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    const { config, vpc, securityGroups: sg, data } = props;
    const envName = config.envName;
    const logRetentionDays = config.platform.logRetentionDays;

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `lap-${envName}.internal`,
      vpc,
      description: `LAP ${envName}: internal names (sandbox callbacks reach the web service here)`,
    });
    const callbackHost = `web.${namespace.namespaceName}`;
    const images = new ContainerImages(this, 'Images', {
      images: config.images,
      architecture: config.platform.architecture,
    });

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
      logRetentionDays,
    });
    const access = new SandboxAccess(cluster, sandboxes, envName);

    const endpoint = new ApiEndpoint(this, 'Api', {
      envName,
      production: config.production,
      edge: config.edge,
      vpc,
      securityGroup: sg.loadBalancer,
    });
    this.apiUrl = endpoint.url;

    // The platform environment contract (platform/src/config.ts). Plain settings only.
    const settings: Record<string, string> = {
      DB_HOST: data.database.host,
      DB_PORT: data.database.port,
      DB_NAME: DATABASE_NAME,
      DB_USER: DATABASE_USER,
      DB_SSL: 'require',
      SECRET_STORE: 'kms',
      KMS_KEY_ARN: data.secrets.agentSecretsKey.keyArn,
      SANDBOX_LAUNCHER: 'ecs',
      LITELLM_API_BASE: config.litellmApiBase,
      CALLBACK_URL: `http://${callbackHost}:${PORTS.platformHttp}`,
      BASE_URL: endpoint.url,
      WARM_POOL_SIZE: String(config.platform.warmPoolSize),
      WARM_POOL_RECENT_AGENT_HOURS: String(config.platform.warmPoolRecentAgentHours),
      WARM_POOL_MAX_PROVISIONING: String(config.platform.warmPoolMaxProvisioning),
      WARM_POOL_TTL_MINUTES: String(config.platform.warmPoolTtlMinutes),
      SESSION_CREATING_TIMEOUT_MS: String(config.platform.sessionCreatingTimeoutMs),
      LOG_LEVEL: config.platform.logLevel,
      SANDBOX_CLUSTER_ARN: cluster.clusterArn,
      SANDBOX_SUBNET_IDS: vpc
        .selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS })
        .subnetIds.join(','),
      SANDBOX_SECURITY_GROUP_ID: sg.sandbox.securityGroupId,
      SANDBOX_TASK_DEFINITIONS: JSON.stringify(sandboxes.families),
      SANDBOX_CAPACITY: config.sandbox.capacity,
      SANDBOX_ENVIRONMENT: envName,
      SANDBOX_LOG_GROUP: sandboxes.logGroup.logGroupName,
      SANDBOX_EXECUTION_ROLE_ARN: sandboxes.executionRole.roleArn,
      SANDBOX_TASK_ROLE_ARN: sandboxes.taskRole.roleArn,
      ...(config.platform.preinstalledGithubRepo
        ? { PREINSTALLED_GITHUB_REPO: config.platform.preinstalledGithubRepo }
        : {}),
    };

    // One task role for web and worker: both run bring-up jobs (the process that received a
    // session's create request brings it up itself), so both launch sandboxes and decrypt agent secrets.
    const platformTaskRole = new iam.Role(this, 'PlatformTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'LAP web and worker services: operate sandboxes, use the agent secrets key',
    });
    access.grantObserve(platformTaskRole);
    access.grantStop(platformTaskRole);
    access.grantLaunch(platformTaskRole);
    data.secrets.grantAgentSecrets(platformTaskRole, 'encrypt-decrypt');
    data.database.secret.grantRead(platformTaskRole);

    const services = new PlatformServices(this, 'Services', {
      cluster,
      vpc,
      securityGroup: sg.platform,
      image: images.platform,
      platform: config.platform,
      environment: {
        ...settings,
        // The RDS CA bundle the platform image ships (DB_SSL=require verifies the certificate).
        NODE_EXTRA_CA_CERTS: PLATFORM_IMAGE_RDS_CA_BUNDLE,
        // The database password: read by the services from the RDS-managed secret (task role) for
        // each new connection, so a rotation (every 7 days) needs no restart.
        DB_SECRET_ARN: data.database.secret.secretArn,
      },
      secrets: {
        MASTER_KEY: ecs.Secret.fromSecretsManager(data.secrets.platform, 'MASTER_KEY'),
        HARNESS_TOKEN_SIGNING_KEY: ecs.Secret.fromSecretsManager(data.secrets.harnessTokenSigningKey),
        VAULT_CA_CERT: ecs.Secret.fromSecretsManager(data.vaultCa.certificate),
      },
      namespace,
      taskRole: platformTaskRole,
      logRetentionDays,
    });
    const targetGroup = endpoint.serve(services.web);

    // Lambdas: same settings, the DB password by secret ARN (read at cold start).
    const functionSettings = {
      ...settings,
      METRICS_NAMESPACE: 'LAP',
      // The RDS CA bundle of the Node.js runtime, for DB_SSL=require with certificate verification.
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    };
    const fn = (
      handlerName: string,
      description: string,
      timeout: Duration,
      extra: Partial<ConstructorParameters<typeof PlatformFunction>[2]> = {},
    ) =>
      new PlatformFunction(this, handlerName, {
        handlerName,
        description: `LAP ${envName}: ${description}`,
        vpc,
        securityGroup: sg.functions,
        environment: functionSettings,
        secretArns: { DB_SECRET_ARN: data.database.secret },
        timeout,
        logRetentionDays,
        architecture: lambda.Architecture.ARM_64,
        ...extra,
      });
    // The warm pool plans top-ups (the worker brings them up) and stops expired ones: no launch rights.
    const warmPool = fn(
      'warm-pool',
      'plans warm sandboxes for recently used agents, recycles expired ones',
      Duration.seconds(55),
      {
        reservedConcurrency: 1,
      },
    );
    access.grantObserve(warmPool.function);
    access.grantStop(warmPool.function);
    const idleReaper = fn(
      'idle-reaper',
      'stops idle sessions, creating timeouts, orphan and stale tasks',
      Duration.minutes(4),
      {
        reservedConcurrency: 1,
      },
    );
    access.grantObserve(idleReaper.function);
    access.grantStop(idleReaper.function);
    const taskEvents = fn('task-events', 'marks sessions whose sandbox task stopped', Duration.seconds(30));
    const migrate = fn('migrate', 'applies database migrations during the deploy', Duration.minutes(10), {
      copyIntoBundle: { 'platform/src/db/migrations': 'migrations' },
    });

    new FunctionSchedule(this, 'WarmPoolSchedule', {
      target: warmPool.function,
      every: Duration.minutes(1),
      description: `LAP ${envName}: warm pool top-up and TTL recycle`,
    });
    new FunctionSchedule(this, 'IdleReaperSchedule', {
      target: idleReaper.function,
      every: Duration.minutes(5),
      description: `LAP ${envName}: idle reaper`,
    });
    const taskStateEvents = new TaskStateEvents(this, 'TaskStateEvents', {
      cluster,
      target: taskEvents.function,
    });
    new DatabaseMigrations(this, 'Migrations', {
      handler: migrate.function,
      executeBefore: [services.web, services.worker, warmPool, idleReaper, taskEvents],
    });

    new Monitoring(this, 'Monitoring', {
      envName,
      alarmEmail: config.alarmEmail,
      loadBalancer: endpoint.loadBalancer,
      targetGroup,
      web: services.web,
      worker: services.worker,
      cluster,
      functions: {
        'warm-pool': warmPool.function,
        'idle-reaper': idleReaper.function,
        'task-events': taskEvents.function,
        migrate: migrate.function,
      },
      launcherLogGroups: [services.webLogGroup, services.workerLogGroup],
      taskEventsDeadLetterQueue: taskStateEvents.deadLetterQueue,
      database: {
        ...data.database.metrics,
        maxConnections: estimatedMaxConnections(config.database),
      },
    });

    new CfnOutput(this, 'ApiUrl', {
      description: 'The LAP API (BASE_URL for the SDK and `lap login`)',
      value: endpoint.url,
    });
    new CfnOutput(this, 'TailLogsCommand', {
      description: 'Follows the control-plane logs',
      value: `aws logs tail --region ${this.region} --follow ${services.webLogGroup.logGroupName} ${services.workerLogGroup.logGroupName}`,
    });
    new CfnOutput(this, 'TailSandboxLogsCommand', {
      description: 'Follows the sandbox logs (harness and vault containers)',
      value: `aws logs tail --region ${this.region} --follow ${sandboxes.logGroup.logGroupName}`,
    });
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
