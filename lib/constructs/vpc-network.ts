import { Annotations, Aws, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { S3PrefixList } from './s3-prefix-list';

export interface VpcNetworkProps {
  network: DeploymentConfig['network'];
  egress: DeploymentConfig['sandbox']['egress'];
  /** Retention of the flow log group. */
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/** Subnet group names: every construct selects subnets by group, never by type. */
export const SUBNETS = {
  /** ALB and NAT. */
  public: 'public',
  /** Services, Lambdas, the egress gateway: a route to the NAT. */
  private: 'private',
  /** One ENI per sandbox task: a route to the NAT only with egress "advisory". */
  sandbox: 'sandbox',
  /** The database: no route out. */
  isolated: 'isolated',
} as const;

/** Interface endpoints a Fargate task needs to start in a subnet without a route out. */
const TASK_START_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
};
/** What the services and functions call all the time besides (network.interfaceEndpoints). */
const PLATFORM_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
};

/**
 * The VPC: public subnets (ALB, NAT), private subnets (services, Lambdas, the egress gateway),
 * large sandbox subnets (one ENI per sandbox task) and isolated subnets (database). Created, or
 * imported by ids without lookups.
 *
 * Sandbox subnets exist in both egress modes: "enforced" gives them no route out at all and
 * puts the VPC endpoints Fargate needs to start a task there; "advisory" routes them to the NAT.
 * Switching the mode therefore changes routes and endpoints, never the subnets sandboxes sit in.
 */
export class VpcNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  /** The interface endpoints' security group (sandboxes reach it on 443 in "enforced" mode). */
  readonly endpointSecurityGroup?: ec2.SecurityGroup;
  /** The region's S3 prefix list ("enforced"): the sandbox subnets reach their S3 gateway endpoint through it. */
  readonly s3PrefixListId?: string;

  constructor(scope: Construct, id: string, props: VpcNetworkProps) {
    super(scope, id);
    const { network } = props;
    const enforced = props.egress === 'enforced';
    if (enforced)
      this.s3PrefixListId = new S3PrefixList(this, 'S3PrefixList', {
        logRetentionDays: props.logRetentionDays,
        removalPolicy: props.removalPolicy,
      }).prefixListId;
    if (network.existingVpc) {
      const existing = network.existingVpc;
      const sandboxSubnetIds = existing.sandboxSubnetIds ?? existing.privateSubnetIds;
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        vpcCidrBlock: existing.vpcCidr,
        availabilityZones: existing.availabilityZones,
        publicSubnetIds: existing.publicSubnetIds,
        privateSubnetIds: [...existing.privateSubnetIds, ...sandboxSubnetIds],
        privateSubnetNames: [SUBNETS.private, SUBNETS.sandbox],
        isolatedSubnetIds: existing.isolatedSubnetIds,
        isolatedSubnetNames: [SUBNETS.isolated],
        publicSubnetNames: [SUBNETS.public],
      });
      // An imported VPC brings its own NAT and endpoints; npm run preflight checks its routes.
      Annotations.of(this).acknowledgeWarning(
        '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        "An imported VPC's route tables are the customer's: nothing here reads them, npm run preflight checks them.",
      );
      return;
    }

    const natGatewayProvider =
      network.nat === 'instance'
        ? ec2.NatProvider.instanceV2({
            instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
            machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
            // The instance forwards from its public address: without one nothing leaves the VPC.
            associatePublicIpAddress: true,
            // Inbound is opened below to the subnets that route to it, not to the internet.
            defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
            // A forwarder needs no burst credits: standard credits cap the bill at the instance price.
            creditSpecification: ec2.CpuCredits.STANDARD,
          })
        : ec2.NatProvider.gateway();

    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      availabilityZones: network.availabilityZones,
      natGatewayProvider,
      natGateways: network.nat === 'instance' ? 1 : network.natGateways,
      restrictDefaultSecurityGroup: true,
      // Largest first: the /18s are allocated before the small subnets, so nothing is wasted on alignment.
      subnetConfiguration: [
        {
          name: SUBNETS.sandbox,
          subnetType: enforced ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
          cidrMask: network.sandboxSubnetCidrMask,
        },
        { name: SUBNETS.private, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: SUBNETS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: SUBNETS.isolated, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    this.vpc = vpc;
    Validations.of(vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Availability zones are explicit in the config (network.availabilityZones, checked by npm run preflight) so that synth needs no AWS lookups.',
    });

    if (network.nat === 'instance') {
      const nat = natGatewayProvider as ec2.NatInstanceProviderV2;
      // Everything the NAT serves: the private subnets, and the sandbox subnets in "advisory" mode.
      const routed = vpc
        .selectSubnets({
          subnetGroupName: SUBNETS.private,
        })
        .subnets.concat(enforced ? [] : vpc.selectSubnets({ subnetGroupName: SUBNETS.sandbox }).subnets);
      for (const subnet of routed) {
        nat.securityGroup.addIngressRule(
          ec2.Peer.ipv4(subnet.ipv4CidrBlock),
          ec2.Port.allTraffic(),
          `forwarded traffic of ${subnet.node.id}`,
        );
      }
      for (const instance of nat.gatewayInstances) {
        const reason = (what: string) => `The NAT instance of network.nat "instance" (development): ${what}`;
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-EC26',
          reason: reason('its root volume holds only the AMI, no data.'),
        });
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-EC28',
          reason: reason('basic monitoring suffices for a disposable forwarder.'),
        });
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-EC29',
          reason: reason(
            'stateless and replaced by CloudFormation, termination protection would block that.',
          ),
        });
      }
    }

    if (network.flowLogs) {
      const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      });
      vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
    }

    // S3 for the private subnets (ECR image layers, off the NAT): any bucket, because the egress
    // gateway forwards sandbox traffic from these subnets and agents may fetch from public buckets.
    vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [
        { subnetGroupName: SUBNETS.private },
        ...(enforced ? [] : [{ subnetGroupName: SUBNETS.sandbox }]),
      ],
    });

    const endpoints = {
      ...(enforced || network.interfaceEndpoints ? TASK_START_ENDPOINTS : {}),
      ...(network.interfaceEndpoints ? PLATFORM_ENDPOINTS : {}),
    };
    if (Object.keys(endpoints).length) {
      this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'LAP interface endpoints: HTTPS from the VPC',
        allowAllOutbound: false,
      });
      this.endpointSecurityGroup.addIngressRule(
        ec2.Peer.ipv4(network.cidr),
        ec2.Port.tcp(443),
        'HTTPS from the VPC',
      );
      for (const [name, service] of Object.entries(endpoints)) {
        const endpoint = vpc.addInterfaceEndpoint(name, {
          service,
          privateDnsEnabled: true,
          open: false,
          securityGroups: [this.endpointSecurityGroup],
          subnets: { subnetGroupName: SUBNETS.private },
        });
        endpoint.addToPolicy(accountPerimeter(['*'], ['*']));
      }
    }
    if (enforced) {
      // The sandbox subnets' own S3 endpoint: ECR image layers only.
      const sandboxS3 = vpc.addGatewayEndpoint('SandboxS3', {
        service: ec2.GatewayVpcEndpointAwsService.S3,
        subnets: [{ subnetGroupName: SUBNETS.sandbox }],
      });
      sandboxS3.addToPolicy(
        accountPerimeter(
          ['s3:GetObject'],
          // ECR keeps image layers in an AWS-owned bucket per region; nothing else is reachable.
          [`arn:${Aws.PARTITION}:s3:::prod-${Stack.of(this).region}-starport-layer-bucket/*`],
        ),
      );
    }
  }
}

/**
 * Endpoint policy of the data perimeter: only principals of this account may use the endpoint
 * (a request signed with another account's credentials, or an unsigned one, is refused there).
 */
function accountPerimeter(actions: string[], resources: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    principals: [new iam.AnyPrincipal()],
    actions,
    resources,
    conditions: { StringEquals: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID } },
  });
}
