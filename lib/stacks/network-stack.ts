import { RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { SecurityPerimeter } from '../constructs/security-perimeter';
import { VpcNetwork } from '../constructs/vpc-network';

export type NetworkStackProps = EnvironmentStackProps;

/** The VPC and every security group with the rules between them. */
export class NetworkStack extends EnvironmentStack {
  readonly vpc: ec2.IVpc;
  readonly securityGroups: SecurityPerimeter;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.vpc = new VpcNetwork(this, 'Network', {
      network: config.network,
      logRetentionDays: config.platform.logRetentionDays,
      removalPolicy: config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    }).vpc;
    this.securityGroups = new SecurityPerimeter(this, 'SecurityGroups', {
      vpc: this.vpc,
      allowedCidrs: config.edge.allowedCidrs,
      https: config.edge.https,
    });
  }
}
