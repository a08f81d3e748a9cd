import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import type { AwsPlatformEnvironment, AwsPlatformSecrets } from '../../platform/src/config/platform-env';
import type { DeploymentConfig } from '../config';
import { capacityProviderFor, runtimePlatformFor } from './fargate-platform';
import { PORTS } from './security-perimeter';
import { SUBNETS } from './vpc-network';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

/**
 * What every platform service gets as plain environment (platform/src/config/platform-env.ts);
 * each service adds its role and port.
 */
export type PlatformServiceEnvironment = Omit<AwsPlatformEnvironment, 'PLATFORM_ROLE' | 'PORT'>;

/** The Cloud Map name of the service that serves the internal port (sandbox callbacks, web -> worker). */
export const WORKER_SERVICE_NAME = 'worker';

export interface PlatformServicesProps {
  cluster: ecs.ICluster;
  vpc: ec2.IVpc;
  image: ecs.ContainerImage;
  platform: DeploymentConfig['platform'];
  /** Plain settings shared by every service (never secret values). */
  environment: PlatformServiceEnvironment;
  /** Secret settings of every service, resolved by ECS from Secrets Manager at task start. */
  secrets: Omit<AwsPlatformSecrets<ecs.Secret>, 'EGRESS_TOKEN_KEY'>;
  /** Secret settings only the worker role holds (EGRESS_TOKEN_KEY). */
  workerSecrets: Pick<AwsPlatformSecrets<ecs.Secret>, 'EGRESS_TOKEN_KEY'>;
  /** The worker registers as `worker.<namespace>` (its internal port). */
  namespace: servicediscovery.IPrivateDnsNamespace;
  roles: { web: iam.IRole; worker: iam.IRole };
  securityGroups: { web: ec2.ISecurityGroup; worker: ec2.ISecurityGroup };
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/** One platform service and its log group. */
export interface PlatformService {
  service: ecs.FargateService;
  logGroup: logs.LogGroup;
}

/**
 * The control plane on Fargate, from the platform image, each service with a deployment circuit
 * breaker that rolls a failed deploy back:
 *   split:    the web service (public API and SSE on 3000, behind the ALB, autoscaled on CPU;
 *             the web role) and the worker service (bring-up jobs, sandbox launches, the
 *             internal port 3001 for sandbox callbacks and web -> worker calls; the worker role);
 *   combined: one service doing both (PLATFORM_ROLE=all) with the worker role and both groups.
 */
export class PlatformServices extends Construct {
  /** The service behind the load balancer (port 3000). */
  readonly api: PlatformService;
  /** The service running the job runner and the internal port. */
  readonly worker: PlatformService;
  readonly all: PlatformService[];

  constructor(scope: Construct, id: string, props: PlatformServicesProps) {
    super(scope, id);
    const { platform } = props;
    const runtimePlatform = runtimePlatformFor(platform.architecture);
    const capacityProvider = capacityProviderFor(platform.capacity);

    const service = (
      role: 'web' | 'worker' | 'all',
      size: { cpu: number; memoryMiB: number },
      desiredCount: number,
    ): PlatformService => {
      const serves = { api: role !== 'worker', worker: role !== 'web' };
      const logGroup = new logs.LogGroup(this, `${role}-logs`, {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      });
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${role}-task`, {
        cpu: size.cpu,
        memoryLimitMiB: size.memoryMiB,
        runtimePlatform,
        taskRole: serves.worker ? props.roles.worker : props.roles.web,
      });
      taskDefinition.addContainer('platform', {
        image: props.image,
        essential: true,
        logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: role }),
        portMappings: [
          { containerPort: PORTS.platformHttp, name: 'http' },
          ...(serves.worker ? [{ containerPort: PORTS.platformInternal, name: 'internal' }] : []),
        ],
        environment: {
          ...props.environment,
          PLATFORM_ROLE: role,
          PORT: `${PORTS.platformHttp}`,
        } satisfies AwsPlatformEnvironment,
        secrets: {
          ...props.secrets,
          ...(serves.worker ? props.workerSecrets : {}),
        } satisfies AwsPlatformSecrets<ecs.Secret>,
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
          'The environment holds only non-secret settings (hosts, ports, ARNs, ids, sizes); MASTER_KEY, HARNESS_TOKEN_SIGNING_KEY, VAULT_CA_CERT and EGRESS_TOKEN_KEY come from Secrets Manager through ECS secrets, and the database password is read from its RDS-managed secret at run time (DB_SECRET_ARN).',
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
        securityGroups: [
          ...(serves.api ? [props.securityGroups.web] : []),
          ...(serves.worker ? [props.securityGroups.worker] : []),
        ],
        vpcSubnets: { subnetGroupName: SUBNETS.private },
        assignPublicIp: false,
        circuitBreaker: { enable: true, rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        capacityProviderStrategies: [{ capacityProvider, weight: 1 }],
        enableExecuteCommand: false,
        propagateTags: ecs.PropagatedTagSource.SERVICE,
      });
      if (serves.worker) {
        fargateService.enableCloudMap({
          name: WORKER_SERVICE_NAME,
          cloudMapNamespace: props.namespace,
          dnsTtl: Duration.seconds(10),
        });
      }
      return { service: fargateService, logGroup };
    };

    if (platform.services === 'combined') {
      const one = service('all', platform.combined, 1);
      this.api = one;
      this.worker = one;
      this.all = [one];
      return;
    }
    this.api = service('web', platform.web, platform.web.minTasks);
    const scaling = this.api.service.autoScaleTaskCount({
      minCapacity: platform.web.minTasks,
      maxCapacity: platform.web.maxTasks,
    });
    scaling.scaleOnCpuUtilization('cpu', {
      targetUtilizationPercent: platform.web.targetCpuPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    this.worker = service('worker', platform.worker, platform.worker.tasks);
    this.all = [this.api, this.worker];
  }
}
