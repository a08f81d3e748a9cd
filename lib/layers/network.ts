import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { SecurityPerimeter } from '../constructs/security-perimeter';
import { VpcNetwork } from '../constructs/vpc-network';

export interface NetworkProps {
  config: DeploymentConfig;
  /** Of the flow log group. */
  removalPolicy: RemovalPolicy;
}

/** The VPC (or the imported one) and every security group with the rules between them. */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  readonly securityGroups: SecurityPerimeter;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { config } = props;
    const network = new VpcNetwork(this, 'Network', {
      network: config.network,
      egress: config.sandbox.egress,
      logRetentionDays: config.platform.logRetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.vpc = network.vpc;
    this.securityGroups = new SecurityPerimeter(this, 'SecurityGroups', {
      vpc: this.vpc,
      allowedCidrs: config.edge.allowedCidrs,
      https: config.edge.https,
      egress: config.sandbox.egress,
      vpcCidr: config.network.existingVpc?.vpcCidr ?? config.network.cidr,
      endpointSecurityGroup: network.endpointSecurityGroup,
      s3PrefixListId: network.s3PrefixListId,
    });
  }
}
