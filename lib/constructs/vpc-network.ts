import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';

export interface VpcNetworkProps {
  network: DeploymentConfig['network'];
  /** Retention of the flow log group. */
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/**
 * The VPC: public subnets (ALB, NAT), large private subnets (services, Lambdas and one ENI per
 * sandbox task), isolated subnets (database). Created, or imported by ids without lookups.
 */
export class VpcNetwork extends Construct {
  readonly vpc: ec2.IVpc;

  constructor(scope: Construct, id: string, props: VpcNetworkProps) {
    super(scope, id);
    const { network } = props;
    if (network.existingVpc) {
      const existing = network.existingVpc;
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        vpcCidrBlock: existing.vpcCidr,
        availabilityZones: existing.availabilityZones,
        publicSubnetIds: existing.publicSubnetIds,
        privateSubnetIds: existing.privateSubnetIds,
        isolatedSubnetIds: existing.isolatedSubnetIds,
      });
      return;
    }

    const natGatewayProvider =
      network.nat === 'instance'
        ? ec2.NatProvider.instanceV2({
            instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
            machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
            defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
          })
        : ec2.NatProvider.gateway();

    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      availabilityZones: network.availabilityZones,
      natGatewayProvider,
      natGateways: network.nat === 'instance' ? 1 : network.natGateways,
      restrictDefaultSecurityGroup: true,
      // Private first: the /18s are allocated before the small subnets, so nothing is wasted on alignment.
      subnetConfiguration: [
        {
          name: 'private',
          subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
          cidrMask: network.privateSubnetCidrMask,
        },
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.vpc = vpc;
    Validations.of(vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Availability zones are explicit in the config (network.availabilityZones) so that synth needs no AWS lookups.',
    });
    for (const natInstance of vpc.node
      .findAll()
      .filter((c): c is ec2.CfnInstance => c instanceof ec2.CfnInstance)) {
      const reason = (what: string) => `The NAT instance of network.nat "instance" (development): ${what}`;
      Validations.of(natInstance).acknowledge({
        id: 'AwsSolutions-EC26',
        reason: reason('its root volume holds only the AMI, no data.'),
      });
      Validations.of(natInstance).acknowledge({
        id: 'AwsSolutions-EC28',
        reason: reason('basic monitoring suffices for a disposable forwarder.'),
      });
      Validations.of(natInstance).acknowledge({
        id: 'AwsSolutions-EC29',
        reason: reason('stateless and replaced by CloudFormation, termination protection would block that.'),
      });
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

    if (network.interfaceEndpoints) {
      // What every task pulls at start (ECR, logs, secrets) and what the worker calls all the time (ECS, KMS).
      const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
        EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
        EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
        Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
        SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
        Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      };
      for (const [name, service] of Object.entries(services)) {
        const endpoint = vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true, open: false });
        endpoint.connections.allowFrom(ec2.Peer.ipv4(network.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
      }
    }
  }
}
