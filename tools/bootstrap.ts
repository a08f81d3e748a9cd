/**
 * `npm run bootstrap -- --env <name> [--least-privilege | --execution-policy <arn>...] [--dry-run] [-- <cdk bootstrap args>]`
 *
 * Runs `cdk bootstrap aws://<account>/<region>` for the environment's account and region from
 * config/<name>.json (the account of your credentials when the config names none). By default
 * CDK deploys with AdministratorAccess. `--least-privilege` restricts CloudFormation to the
 * managed policies created from tools/iam/execution-*.json and sets tools/iam/permissions-boundary.json
 * (policy `lap-permissions-boundary`) as the boundary of its role; the config must then name the
 * same boundary (`iam.permissionsBoundary`) so every role the stack creates carries it
 * (docs/deploy.md, step 1).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config';

/** The managed policies of the least-privilege bootstrap: `lap-cdk-<file name>` from tools/iam/. */
export const IAM_POLICY_DIR = path.join(__dirname, 'iam');
export const PERMISSIONS_BOUNDARY_POLICY = 'lap-permissions-boundary';

/** The policy documents in tools/iam/, sorted. */
function policyFiles(): string[] {
  return fs
    .readdirSync(IAM_POLICY_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** The managed policy a file of tools/iam/ becomes. */
function policyName(file: string): string {
  return file === 'permissions-boundary.json'
    ? PERMISSIONS_BOUNDARY_POLICY
    : `lap-cdk-${file.replace(/\.json$/, '')}`;
}

export function executionPolicyNames(): string[] {
  return policyFiles()
    .filter((f) => f.startsWith('execution-'))
    .map(policyName);
}

export interface BootstrapOptions {
  envName: string;
  leastPrivilege?: boolean;
  executionPolicyArns?: string[];
  extraArgs?: string[];
}

/** The cdk CLI arguments for bootstrapping the environment. */
export function bootstrapCommand(options: BootstrapOptions): string[] {
  const config = loadConfig(options.envName);
  // "unknown-account" makes the CDK CLI use the account of the current credentials.
  const target = `aws://${config.account ?? 'unknown-account'}/${config.region}`;
  const args = ['cdk', 'bootstrap', target, '--tags', `lap:environment=${config.envName}`];
  const arns = [...(options.executionPolicyArns ?? [])];
  if (options.leastPrivilege) {
    if (!config.account) {
      throw new Error(
        `--least-privilege needs the account in config/${config.envName}.json ("account"): the policy ARNs name it`,
      );
    }
    if (config.iam.permissionsBoundary !== PERMISSIONS_BOUNDARY_POLICY) {
      throw new Error(
        `--least-privilege: set "iam": { "permissionsBoundary": "${PERMISSIONS_BOUNDARY_POLICY}" } in config/${config.envName}.json, or the deploy cannot create its roles`,
      );
    }
    arns.push(...executionPolicyNames().map((name) => `arn:aws:iam::${config.account}:policy/${name}`));
  }
  for (const arn of arns) {
    if (!/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\//.test(arn)) {
      throw new Error(
        `--execution-policy must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>), got "${arn}"`,
      );
    }
  }
  if (arns.length) args.push('--cloudformation-execution-policies', arns.join(','));
  if (options.leastPrivilege) args.push('--custom-permissions-boundary', PERMISSIONS_BOUNDARY_POLICY);
  return [...args, ...(options.extraArgs ?? [])];
}

/** The AWS CLI commands that create the least-privilege policies (run once per account). */
export function createPolicyCommands(): string[] {
  return policyFiles().map(
    (file) =>
      `aws iam create-policy --policy-name ${policyName(file)} --policy-document file://tools/iam/${file}`,
  );
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      env: { type: 'string', default: 'dev' },
      'least-privilege': { type: 'boolean', default: false },
      'execution-policy': { type: 'string', multiple: true },
      'print-policy-commands': { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (values['print-policy-commands']) {
    console.log(createPolicyCommands().join('\n'));
    return;
  }
  const args = bootstrapCommand({
    envName: values.env!,
    leastPrivilege: values['least-privilege'],
    executionPolicyArns: values['execution-policy'],
    extraArgs: positionals,
  });
  console.log(`$ npx ${args.join(' ')}`);
  if (values['dry-run']) return;
  const result = spawnSync('npx', args, { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

if (require.main === module) main();
