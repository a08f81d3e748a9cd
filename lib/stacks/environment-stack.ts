import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';

export interface EnvironmentStackProps extends StackProps {
  config: DeploymentConfig;
}

/**
 * Base of the three stacks: availability zones come from the config, never from a context
 * lookup, so `cdk synth` works without AWS credentials even with a concrete account.
 */
export class EnvironmentStack extends Stack {
  private readonly configuredAzs: string[];

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    this.configuredAzs = props.config.network.availabilityZones;
  }

  override get availabilityZones(): string[] {
    return this.configuredAzs;
  }
}
