/**
 * The least-privilege bootstrap (tools/iam/*.json, `npm run bootstrap -- --least-privilege`)
 * against the synthesized templates of every deployment the tests cover: the CloudFormation
 * role may make every call each resource type needs (tools/deploy-permissions.ts), and cannot
 * create or change a role or policy outside the permissions boundary, so a template cannot grant
 * itself more than the boundary (no path to admin). Every role the stack creates carries the
 * boundary, and the boundary allows what the stack grants them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEPLOY_PERMISSIONS, STACK_PERMISSIONS, type DeployCall } from '../../tools/deploy-permissions';
import { evaluateRole, type PolicyDocument, type Request } from './support/iam-evaluator';
import { REPO_ROOT, synthesize } from './support/synth';
import { TemplateModel } from './support/template-model';
import { variants } from './support/variants';

const IAM_DIR = path.join(REPO_ROOT, 'tools', 'iam');
const read = (file: string) =>
  JSON.parse(fs.readFileSync(path.join(IAM_DIR, file), 'utf8')) as PolicyDocument;
const executionPolicies = fs
  .readdirSync(IAM_DIR)
  .filter((f) => f.startsWith('execution-'))
  .map(read);
const boundary = read('permissions-boundary.json');
const BOUNDARY_NAME = 'lap-permissions-boundary';
const ACCOUNT = '123456789012';
const boundaryArn = `arn:aws:iam::${ACCOUNT}:policy/${BOUNDARY_NAME}`;
/** The CloudFormation execution role of `cdk bootstrap --least-privilege`: the policies and the boundary. */
const deployRole = { policies: executionPolicies, boundary };

function fill(text: string, envName: string, region: string): string {
  return text
    .replace(/\{account\}/g, ACCOUNT)
    .replace(/\{region\}/g, region)
    .replace(/\{env\}/g, `lap-${envName}`)
    .replace(/\{boundary\}/g, boundaryArn);
}

function requestsOf(calls: DeployCall[], envName: string, region: string): Request[] {
  return calls.flatMap((call) =>
    call.actions.map((action) => ({
      action,
      resource: fill(call.resource, envName, region),
      context: Object.fromEntries(
        Object.entries(call.context ?? {}).map(([k, v]) => [k, fill(v, envName, region)]),
      ),
    })),
  );
}

const synthesized = variants().map((variant) => ({
  variant,
  ...synthesize(variant.envName, variant.input, { nag: false }),
}));

describe('the CloudFormation execution role of the least-privilege bootstrap', () => {
  it('stays within the managed policy size limit (6,144 characters each)', () => {
    for (const policy of [...executionPolicies, boundary]) {
      expect(JSON.stringify(policy).length).toBeLessThanOrEqual(6144);
    }
  });

  it.each(synthesized.map((s) => [s.variant.name, s] as const))(
    'may create, update and delete every resource of %s',
    (_name, { json, config }) => {
      const types = [...new Set(Object.values(json.Resources).map((r) => r.Type))].sort();
      expect(types.filter((t) => !(t in DEPLOY_PERMISSIONS))).toEqual([]);
      const refused = [...STACK_PERMISSIONS, ...types.flatMap((t) => DEPLOY_PERMISSIONS[t]!)]
        .flatMap((call) => requestsOf([call], config.envName, config.region))
        .map((request) => ({ request, decision: evaluateRole(deployRole, request) }))
        .filter((r) => r.decision !== 'allowed')
        .map((r) => `${r.request.action} on ${r.request.resource}: ${r.decision}`);
      expect(refused).toEqual([]);
    },
  );

  it.each<[string, Request]>([
    [
      'a role without the boundary',
      { action: 'iam:CreateRole', resource: `arn:aws:iam::${ACCOUNT}:role/lap-prod-Admin` },
    ],
    [
      'a role with another boundary',
      {
        action: 'iam:CreateRole',
        resource: `arn:aws:iam::${ACCOUNT}:role/lap-prod-Admin`,
        context: { 'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/AdministratorAccess` },
      },
    ],
    [
      'a role outside the stack, even with the boundary',
      {
        action: 'iam:CreateRole',
        resource: `arn:aws:iam::${ACCOUNT}:role/Admin`,
        context: { 'iam:PermissionsBoundary': boundaryArn },
      },
    ],
    [
      'AdministratorAccess on a role without the boundary',
      {
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/lap-prod-Existing`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
      },
    ],
    [
      'an inline policy on a role outside the stack',
      {
        action: 'iam:PutRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`,
        context: { 'iam:PermissionsBoundary': boundaryArn },
      },
    ],
    [
      'removing a boundary',
      {
        action: 'iam:DeleteRolePermissionsBoundary',
        resource: `arn:aws:iam::${ACCOUNT}:role/lap-prod-WorkerTaskRole`,
      },
    ],
    ['editing the boundary', { action: 'iam:CreatePolicyVersion', resource: boundaryArn }],
    [
      'a managed policy',
      { action: 'iam:CreatePolicy', resource: `arn:aws:iam::${ACCOUNT}:policy/lap-anything` },
    ],
    [
      'a user',
      {
        action: 'iam:CreateUser',
        resource: `arn:aws:iam::${ACCOUNT}:user/lap-admin`,
        context: { 'iam:PermissionsBoundary': boundaryArn },
      },
    ],
    ['an access key', { action: 'iam:CreateAccessKey', resource: `arn:aws:iam::${ACCOUNT}:user/admin` }],
    [
      'passing a role outside the stack',
      {
        action: 'iam:PassRole',
        resource: `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`,
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
    ],
    [
      'assuming a role',
      { action: 'sts:AssumeRole', resource: `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole` },
    ],
    [
      'a function outside the stack',
      {
        action: 'lambda:UpdateFunctionCode',
        resource: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:payments`,
      },
    ],
    [
      'reading any secret',
      {
        action: 'secretsmanager:GetSecretValue',
        resource: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:prod/db-AbCdEf`,
      },
    ],
    [
      'deleting an untagged secret',
      {
        action: 'secretsmanager:DeleteSecret',
        resource: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:prod/db-AbCdEf`,
      },
    ],
    [
      'decrypting with any key',
      {
        action: 'kms:Decrypt',
        resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`,
      },
    ],
    [
      'a key policy on an untagged key',
      {
        action: 'kms:PutKeyPolicy',
        resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`,
      },
    ],
    ['reading any bucket', { action: 's3:GetObject', resource: 'arn:aws:s3:::customer-data/report.csv' }],
    [
      'a bucket policy outside the stack',
      { action: 's3:PutBucketPolicy', resource: 'arn:aws:s3:::customer-data' },
    ],
  ])('refuses %s', (_case, request) => {
    expect(evaluateRole(deployRole, request)).not.toBe('allowed');
  });

  it('holds no service-wide wildcard on IAM, KMS, Secrets Manager or S3', () => {
    const actions = executionPolicies.flatMap((p) =>
      p.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action ?? []].flat()),
    );
    expect(actions.filter((a) => /^(iam|kms|secretsmanager|s3|lambda|\*):\*$|^\*$/.test(a))).toEqual([]);
  });
});

describe('the roles the stack creates', () => {
  const withBoundary = synthesized.filter((s) => s.config.iam.permissionsBoundary);

  it('are covered by a config that names the boundary (config/prod.json)', () => {
    expect(withBoundary.map((s) => s.variant.envName)).toContain('prod');
  });

  it.each(withBoundary.map((s) => [s.variant.name, s] as const))(
    'carry the permissions boundary in %s',
    (_name, { json }) => {
      const roles = Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
      expect(roles.length).toBeGreaterThan(10);
      const without = roles
        .filter(
          ([, r]) =>
            !JSON.stringify(r.Properties?.PermissionsBoundary ?? '').includes(`policy/${BOUNDARY_NAME}`),
        )
        .map(([id]) => id);
      expect(without).toEqual([]);
    },
  );

  it.each(withBoundary.map((s) => [s.variant.name, s] as const))(
    'get nothing the boundary cuts off in %s',
    (_name, { json, config }) => {
      const model = new TemplateModel({ stack: json });
      const cut: string[] = [];
      for (const policy of model.ofType('AWS::IAM::Policy')) {
        for (const statement of policy.props.PolicyDocument.Statement as Array<Record<string, unknown>>) {
          if (statement.Effect !== 'Allow') continue;
          for (const action of [statement.Action].flat() as string[]) {
            // Roles' own ARNs resolve at deploy time; every role of the stack is named lap-<env>-*.
            const resources = [statement.Resource]
              .flat()
              .map((r) =>
                typeof r === 'string'
                  ? r
                  : JSON.stringify(r).includes('Role')
                    ? `arn:aws:iam::${ACCOUNT}:role/lap-${config.envName}-X`
                    : '*',
              );
            for (const resource of resources) {
              if (evaluateRole({ policies: [boundary] }, { action, resource }) !== 'allowed') {
                cut.push(`${policy.logicalId}: ${action} on ${resource}`);
              }
            }
          }
        }
      }
      expect(cut).toEqual([]);
    },
  );
});
