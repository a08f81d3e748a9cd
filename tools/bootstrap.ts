/**
 * `npm run bootstrap -- --env <name> [--execution-policy <policy-arn>] [--dry-run] [-- <cdk bootstrap args>]`
 *
 * Runs `cdk bootstrap aws://<account>/<region>` for the environment's account and region from
 * config/<name>.json (the account of your credentials when the config names none). By default
 * CDK deploys with AdministratorAccess; `--execution-policy` restricts CloudFormation to a
 * managed policy instead: create it from tools/bootstrap-execution-policy.json (only the
 * services LAP deploys, IAM only on lap-* roles), see docs/new-environment.md.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config';

export interface BootstrapOptions {
  envName: string;
  executionPolicyArn?: string;
  extraArgs?: string[];
}

/** The cdk CLI arguments for bootstrapping the environment. */
export function bootstrapCommand(options: BootstrapOptions): string[] {
  const config = loadConfig(options.envName);
  // "unknown-account" makes the CDK CLI use the account of the current credentials.
  const target = `aws://${config.account ?? 'unknown-account'}/${config.region}`;
  const args = ['cdk', 'bootstrap', target, '--tags', `lap:environment=${config.envName}`];
  if (options.executionPolicyArn) {
    if (!/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\//.test(options.executionPolicyArn)) {
      throw new Error(
        `--execution-policy must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>), got "${options.executionPolicyArn}"`,
      );
    }
    args.push('--cloudformation-execution-policies', options.executionPolicyArn);
  }
  return [...args, ...(options.extraArgs ?? [])];
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      env: { type: 'string', default: 'dev' },
      'execution-policy': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const args = bootstrapCommand({
    envName: values.env!,
    executionPolicyArn: values['execution-policy'],
    extraArgs: positionals,
  });
  console.log(`$ npx ${args.join(' ')}`);
  if (values['dry-run']) return;
  const result = spawnSync('npx', args, { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

if (require.main === module) main();
