import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { EgressGatewayEnvironment, EgressGatewaySecretName } from '@lap/sandbox-protocol';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { capacityProviderFor, runtimePlatformFor } from './fargate-platform';
import { PORTS } from './security-perimeter';
import { SUBNETS } from './vpc-network';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

/** The Cloud Map name of the gateway: vaults dial `egress.<namespace>:8443`. */
export const EGRESS_GATEWAY_SERVICE_NAME = 'egress';

export interface EgressGatewayProps {
  cluster: ecs.ICluster;
  securityGroup: ec2.ISecurityGroup;
  image: ecs.ContainerImage;
  gateway: DeploymentConfig['sandbox']['egressGateway'];
  architecture: DeploymentConfig['platform']['architecture'];
  capacity: DeploymentConfig['platform']['capacity'];
  namespace: servicediscovery.IPrivateDnsNamespace;
  /** Server certificate and key for `lap-egress-gateway` (PEM), signed by the vault CA. */
  tlsCertificate: secretsmanager.ISecret;
  tlsPrivateKey: secretsmanager.ISecret;
  /** EGRESS_TOKEN_KEY: the HMAC key of the per-sandbox tokens (the worker mints them). */
  tokenKey: secretsmanager.ISecret;
  /** Destinations refused on top of the gateway's built-in private, link-local and metadata ranges. */
  denyCidrs: string[];
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/**
 * The only way out of the sandboxes with `sandbox.egress` "enforced": a Fargate service in the
 * private subnets (routed to the NAT) that accepts TLS on 8443 (certificate for
 * `lap-egress-gateway`, signed by the vault CA) and forwards only `CONNECT <ip>:<port>` requests
 * carrying a token derived from EGRESS_TOKEN_KEY, the sandbox id and the caller's address, so
 * only a sandbox's own vault can use it (sandbox/egress-gateway). Its task role has no
 * permission; its execution role reads exactly its three secrets.
 */
export class EgressGateway extends Construct {
  readonly service: ecs.FargateService;
  readonly logGroup: logs.LogGroup;
  /** `host:port` for VAULT_EGRESS_GATEWAY. */
  readonly endpoint: string;

  constructor(scope: Construct, id: string, props: EgressGatewayProps) {
    super(scope, id);
    const { gateway } = props;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'LAP egress gateway task role: deliberately without any permission',
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: gateway.cpu,
      memoryLimitMiB: gateway.memoryMiB,
      taskRole,
      runtimePlatform: runtimePlatformFor(props.architecture),
    });
    taskDefinition.addContainer('gateway', {
      image: props.image,
      essential: true,
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'gateway' }),
      portMappings: [
        { containerPort: PORTS.egressGateway, name: 'tls' },
        { containerPort: PORTS.egressGatewayHealth, name: 'health' },
      ],
      // sandbox/egress-gateway reads these (egressGatewayEnvSchema in @lap/sandbox-protocol).
      environment: {
        EGRESS_GATEWAY_ALLOWED_PORTS: gateway.allowedPorts.join(','),
        EGRESS_GATEWAY_DENY_CIDRS: props.denyCidrs.join(','),
      } satisfies EgressGatewayEnvironment,
      secrets: {
        EGRESS_GATEWAY_TLS_CERT: ecs.Secret.fromSecretsManager(props.tlsCertificate),
        EGRESS_GATEWAY_TLS_KEY: ecs.Secret.fromSecretsManager(props.tlsPrivateKey),
        EGRESS_TOKEN_KEY: ecs.Secret.fromSecretsManager(props.tokenKey),
      } satisfies Record<EgressGatewaySecretName, ecs.Secret>,
      // The image has no shell: the binary checks its own plain HTTP GET /healthz.
      healthCheck: {
        command: ['CMD', '/egress-gateway', '-healthcheck'],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(3),
        retries: 3,
        startPeriod: Duration.seconds(10),
      },
      stopTimeout: Duration.seconds(30),
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only the allowed ports and denied ranges; the TLS key and the token key come from Secrets Manager through ECS secrets.',
    });
    acknowledgeWildcardResource(
      taskDefinition.obtainExecutionRole(),
      '*',
      'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); the pull, log and secret statements of this role name their resources.',
    );
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition,
      desiredCount: gateway.tasks,
      securityGroups: [props.securityGroup],
      vpcSubnets: { subnetGroupName: SUBNETS.private },
      assignPublicIp: false,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      capacityProviderStrategies: [{ capacityProvider: capacityProviderFor(props.capacity), weight: 1 }],
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    this.service.enableCloudMap({
      name: EGRESS_GATEWAY_SERVICE_NAME,
      cloudMapNamespace: props.namespace,
      dnsTtl: Duration.seconds(10),
    });
    this.endpoint = `${EGRESS_GATEWAY_SERVICE_NAME}.${props.namespace.namespaceName}:${PORTS.egressGateway}`;
  }
}
