import { Annotations, type App, Tags, Validations, type Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { DeploymentConfig } from './config';
import { DataStack } from './stacks/data-stack';
import { NetworkStack } from './stacks/network-stack';
import { PlatformStack } from './stacks/platform-stack';

/** Types CDK tags but the CloudFormation schema (cfn-lint E3002) does not accept Tags on. */
const UNTAGGABLE_RESOURCE_TYPES = [
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::CloudWatch::Dashboard',
];

export interface LapStacks {
  network: NetworkStack;
  data: DataStack;
  platform: PlatformStack;
}

export interface CreateStacksOptions {
  /** Run the cdk-nag AwsSolutions checks at synth (findings fail the synth). @default true */
  nag?: boolean;
}

/**
 * The one stack factory, used by bin/lap.ts and by the tests: three stacks per environment,
 * named `lap-<env>-network|data|platform` so several environments share an account.
 */
export function createStacks(
  app: App,
  config: DeploymentConfig,
  options: CreateStacksOptions = {},
): LapStacks {
  const env = { account: config.account, region: config.region };
  const prefix = `lap-${config.envName}`;
  const description = (what: string) => `LiteLLM Agent Platform (${config.envName}): ${what}`;

  const network = new NetworkStack(app, `${prefix}-network`, {
    env,
    config,
    description: description('VPC and security groups'),
  });
  const data = new DataStack(app, `${prefix}-data`, {
    env,
    config,
    vpc: network.vpc,
    databaseSecurityGroup: network.securityGroups.database,
    description: description('database, secrets and keys (stateful)'),
  });
  const platform = new PlatformStack(app, `${prefix}-platform`, {
    env,
    config,
    vpc: network.vpc,
    securityGroups: network.securityGroups,
    data,
    description: description('control plane, sandboxes, functions and monitoring'),
  });

  const tags = { 'lap:environment': config.envName, ...config.tags };
  for (const stack of [network, data, platform] as Stack[]) {
    for (const [key, value] of Object.entries(tags)) {
      Tags.of(stack).add(key, value, { excludeResourceTypes: UNTAGGABLE_RESOURCE_TYPES });
    }
  }
  warnAboutRiskyChoices(config, { network, data, platform });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { network, data, platform };
}

/** Synth warnings for choices that are legal but risky. */
function warnAboutRiskyChoices(config: DeploymentConfig, stacks: LapStacks): void {
  const warn = (stack: Stack, id: string, message: string) =>
    Annotations.of(stack).addWarningV2(`lap:${id}`, message);
  if (!config.edge.https) {
    warn(
      stacks.platform,
      'plainHttp',
      'edge.allowHttp: the API is served over plain HTTP; MASTER_KEY and agent secrets cross the network unencrypted. Set edge.certificateArn or edge.domainName + edge.hostedZone.',
    );
  }
  if (config.database.backupRetentionDays === 0) {
    warn(
      stacks.data,
      'noBackups',
      'database.backupRetentionDays is 0: the database has no automated backups. Set it to 1 or more.',
    );
  }
  if (config.database.publiclyAccessible) {
    warn(
      stacks.data,
      'publicDatabase',
      'database.publiclyAccessible: the database has a public address (its security group still admits only the platform). Set it to false.',
    );
  }
  if (config.production && !config.database.deletionProtection) {
    warn(
      stacks.data,
      'noDeletionProtection',
      'production with database.deletionProtection false: a stack deletion or replacement can delete the database. Remove the override.',
    );
  }
  if (config.production && config.network.nat === 'instance') {
    warn(
      stacks.network,
      'natInstance',
      'production with network.nat "instance": one NAT instance is a single point of failure for all sandbox egress. Use "gateway".',
    );
  }
  if (
    config.edge.allowedCidrs.includes('0.0.0.0/0') &&
    !config.edge.waf &&
    config.edge.internetFacing &&
    config.production
  ) {
    warn(
      stacks.platform,
      'noWaf',
      'production API open to the internet without WAF: set edge.waf true or narrow edge.allowedCidrs.',
    );
  }
}
