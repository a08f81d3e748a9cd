import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { Data } from '../layers/data';
import { Network } from '../layers/network';
import { Platform } from '../layers/platform';

export interface EnvironmentStackProps extends StackProps {
  config: DeploymentConfig;
}

/**
 * One stack per environment, `lap-<env>`: the network, the data and the platform layers.
 *
 * One stack, not three: CloudFormation then orders every update itself. A subnet, a database or
 * a security group that a config change replaces is deleted only in the cleanup phase, after
 * everything that used it moved, and no value crosses a stack boundary, so no export can block
 * a change ("Export ... in use") and no reference can go stale (a consumer stack whose template
 * did not change is skipped by `cdk deploy`). Termination protection is on in production; the
 * stateful resources carry their own retention (docs/upgrading.md).
 *
 * Availability zones come from the config, never from a context lookup, so `cdk synth` works
 * without AWS credentials even with a concrete account.
 */
export class EnvironmentStack extends Stack {
  readonly network: Network;
  readonly data: Data;
  readonly platform: Platform;
  private readonly configuredAzs: string[];

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.production });
    const { config } = props;
    this.configuredAzs = config.network.availabilityZones;
    const keep = config.production ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;
    this.network = new Network(this, 'Network', { config, removalPolicy: keep });
    this.data = new Data(this, 'Data', {
      config,
      vpc: this.network.vpc,
      databaseSecurityGroup: this.network.securityGroups.database,
      removalPolicy: keep,
    });
    this.platform = new Platform(this, 'Platform', {
      config,
      vpc: this.network.vpc,
      securityGroups: this.network.securityGroups,
      data: this.data,
      removalPolicy: keep,
    });
  }

  override get availabilityZones(): string[] {
    return this.configuredAzs;
  }
}
