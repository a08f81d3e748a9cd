import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { PORTS } from './security-perimeter';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

export interface PlatformServicesProps {
  cluster: ecs.ICluster;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  image: ecs.ContainerImage;
  platform: DeploymentConfig['platform'];
  /** Plain settings shared by both services (never secret values). */
  environment: Record<string, string>;
  /** Secret settings, resolved by ECS from Secrets Manager at task start. */
  secrets: Record<string, ecs.Secret>;
  /** Private DNS namespace: the web service registers as `web.<namespace>` for sandbox callbacks. */
  namespace: servicediscovery.IPrivateDnsNamespace;
  /** Shared by both services (both run bring-up jobs). */
  taskRole: iam.IRole;
  logRetentionDays: number;
}

/**
 * The control plane on Fargate: the web service (REST API, SSE, sandbox callbacks; behind the
 * ALB, autoscaled on CPU) and the worker service (bring-up jobs and sandbox traffic), both from
 * the platform image, both with a deployment circuit breaker that rolls a failed deploy back.
 */
export class PlatformServices extends Construct {
  readonly web: ecs.FargateService;
  readonly worker: ecs.FargateService;
  readonly webLogGroup: logs.LogGroup;
  readonly workerLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PlatformServicesProps) {
    super(scope, id);
    const { platform } = props;
    const runtimePlatform: ecs.RuntimePlatform = {
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      cpuArchitecture:
        platform.architecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
    };

    const service = (
      role: 'web' | 'worker',
      size: { cpu: number; memoryMiB: number },
      desiredCount: number,
    ) => {
      const logGroup = new logs.LogGroup(this, `${role}-logs`, {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${role}-task`, {
        cpu: size.cpu,
        memoryLimitMiB: size.memoryMiB,
        runtimePlatform,
        taskRole: props.taskRole,
      });
      taskDefinition.addContainer('platform', {
        image: props.image,
        essential: true,
        logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: role }),
        portMappings: [{ containerPort: PORTS.platformHttp, name: 'http' }],
        environment: { ...props.environment, PLATFORM_ROLE: role, PORT: String(PORTS.platformHttp) },
        secrets: props.secrets,
        // node is in the image; curl may not be.
        healthCheck: {
          command: [
            'CMD',
            'node',
            '-e',
            `fetch('http://127.0.0.1:${PORTS.platformHttp}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
          ],
          interval: Duration.seconds(30),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(60),
        },
        stopTimeout: Duration.seconds(120),
      });
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason:
          'The environment holds only non-secret settings (hosts, ARNs, ids, sizes); MASTER_KEY, HARNESS_TOKEN_SIGNING_KEY and VAULT_CA_CERT come from Secrets Manager through ECS secrets, and the database password is read from its RDS-managed secret at run time (DB_SECRET_ARN).',
      });
      acknowledgeWildcardResource(
        taskDefinition.obtainExecutionRole(),
        '*',
        'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); the pull, log and secret statements of this role name their resources.',
      );
      const fargateService = new ecs.FargateService(this, `${role}-service`, {
        cluster: props.cluster,
        taskDefinition,
        desiredCount,
        securityGroups: [props.securityGroup],
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        assignPublicIp: false,
        circuitBreaker: { enable: true, rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        capacityProviderStrategies: [{ capacityProvider: 'FARGATE', weight: 1 }],
        enableExecuteCommand: false,
        propagateTags: ecs.PropagatedTagSource.SERVICE,
      });
      return { fargateService, logGroup };
    };

    const web = service('web', platform.web, platform.web.minTasks);
    this.web = web.fargateService;
    this.webLogGroup = web.logGroup;
    this.web.enableCloudMap({
      name: 'web',
      cloudMapNamespace: props.namespace,
      dnsTtl: Duration.seconds(10),
    });
    const scaling = this.web.autoScaleTaskCount({
      minCapacity: platform.web.minTasks,
      maxCapacity: platform.web.maxTasks,
    });
    scaling.scaleOnCpuUtilization('cpu', {
      targetUtilizationPercent: platform.web.targetCpuPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });

    const worker = service('worker', platform.worker, platform.worker.tasks);
    this.worker = worker.fargateService;
    this.workerLogGroup = worker.logGroup;
  }
}
