import { Annotations, type App, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { DeploymentConfig } from './config';
import { EnvironmentStack } from './stacks/environment-stack';

/** Types CDK tags but the CloudFormation schema (cfn-lint E3002) does not accept Tags on. */
const UNTAGGABLE_RESOURCE_TYPES = [
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::CloudWatch::Dashboard',
];

export interface CreateEnvironmentOptions {
  /** Run the cdk-nag AwsSolutions checks at synth (findings fail the synth). @default true */
  nag?: boolean;
}

/** The name of an environment's stack. */
export function stackName(envName: string): string {
  return `lap-${envName}`;
}

/**
 * The one stack factory, used by bin/lap.ts, the tools and the tests: one stack per environment,
 * `lap-<env>` (network, data and platform layers), so several environments share an account.
 */
export function createEnvironment(
  app: App,
  config: DeploymentConfig,
  options: CreateEnvironmentOptions = {},
): EnvironmentStack {
  const stack = new EnvironmentStack(app, stackName(config.envName), {
    env: { account: config.account, region: config.region },
    config,
    description: `LiteLLM Agent Platform (${config.envName}): network, data, control plane and sandboxes`,
  });
  const tags = { 'lap:environment': config.envName, ...config.tags };
  for (const [key, value] of Object.entries(tags)) {
    Tags.of(stack).add(key, value, { excludeResourceTypes: UNTAGGABLE_RESOURCE_TYPES });
  }
  if (config.iam.permissionsBoundary) {
    // Every role of the stack, the CDK's own helper roles included: the least-privilege
    // CloudFormation role may create roles only with this boundary (tools/*.json).
    iam.PermissionsBoundary.of(stack).apply(
      iam.ManagedPolicy.fromManagedPolicyName(stack, 'PermissionsBoundary', config.iam.permissionsBoundary),
    );
  }
  warnAboutRiskyChoices(config, stack);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

/** Synth warnings for choices that are legal but risky. */
function warnAboutRiskyChoices(config: DeploymentConfig, stack: EnvironmentStack): void {
  const warn = (id: string, message: string) => Annotations.of(stack).addWarningV2(`lap:${id}`, message);
  if (!config.edge.https) {
    warn(
      'plainHttp',
      'edge.allowHttp: the API is served over plain HTTP; MASTER_KEY and agent secrets cross the network unencrypted. Set edge.certificateArn or edge.domainName + edge.hostedZone.',
    );
  }
  if (config.sandbox.egress === 'advisory') {
    warn(
      'advisoryEgress',
      'sandbox.egress "advisory": sandboxes reach the internet through the NAT on ports 80 and 443, so an agent that ignores HTTPS_PROXY bypasses its vault (allow_out/deny_out become advice; credentials stay stubs). Set sandbox.egress "enforced" (the production default) to make the vault the only way out.',
    );
  }
  if (config.database.backupRetentionDays === 0) {
    warn(
      'noBackups',
      'database.backupRetentionDays is 0: the database has no automated backups. Set it to 1 or more.',
    );
  }
  if (config.database.publiclyAccessible) {
    warn(
      'publicDatabase',
      'database.publiclyAccessible: the database has a public address (its security group still admits only the platform). Set it to false.',
    );
  }
  if (config.production && !config.database.deletionProtection) {
    warn(
      'noDeletionProtection',
      'production with database.deletionProtection false: a stack deletion or replacement can delete the database. Remove the override.',
    );
  }
  if (config.production && config.network.nat === 'instance') {
    warn(
      'natInstance',
      'production with network.nat "instance": one NAT instance is a single point of failure for all egress. Use "gateway".',
    );
  }
  if (config.production && config.platform.services === 'combined') {
    warn(
      'combinedServices',
      'production with platform.services "combined": the internet-facing task also holds the worker\'s rights (launch sandboxes, decrypt agent secrets, read sandbox logs). Use "split".',
    );
  }
  if (
    config.edge.allowedCidrs.includes('0.0.0.0/0') &&
    !config.edge.waf &&
    config.edge.internetFacing &&
    config.production
  ) {
    warn(
      'noWaf',
      'production API open to the internet without WAF: set edge.waf true or narrow edge.allowedCidrs.',
    );
  }
}
