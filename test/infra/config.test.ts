import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, resolveConfig } from '../../lib/config';
import { readConfigFile } from './support/synth';

const base = {
  litellmApiBase: 'https://litellm.example.com',
  edge: { allowHttp: true },
  network: { availabilityZones: ['us-east-1a', 'us-east-1b'] },
};

/** An imported VPC without sandbox subnets of its own. */
const importedVpc = {
  vpcId: 'vpc-0abc0abc',
  vpcCidr: '10.1.0.0/16',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  publicSubnetIds: ['subnet-01000000000000000', 'subnet-02000000000000000'],
  privateSubnetIds: ['subnet-03000000000000000', 'subnet-04000000000000000'],
  isolatedSubnetIds: ['subnet-05000000000000000', 'subnet-06000000000000000'],
};

function errorOf(input: unknown, envName = 'test'): string {
  try {
    resolveConfig(envName, input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('deployment config', () => {
  it.each(['dev', 'prod'])('accepts the example config/%s.json', (envName) => {
    const config = loadConfig(envName);
    expect(config.envName).toBe(envName);
  });

  it('applies development defaults', () => {
    const config = resolveConfig('test', base);
    expect(config.region).toBe('us-east-1');
    expect(config.network.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
    expect(config.network.nat).toBe('instance');
    expect(config.network.natGateways).toBe(1);
    expect(config.network.interfaceEndpoints).toBe(false);
    expect(config.sandbox.egress).toBe('advisory');
    expect(config.platform).toMatchObject({
      services: 'combined',
      capacity: 'spot',
      jobPollIdleMaxMs: 21_600_000,
      combined: { cpu: 256, memoryMiB: 1024 },
    });
    expect(config.monitoring).toEqual({ dashboard: false, containerInsights: false });
    expect(config.database).toMatchObject({ backupPlan: false, autoPauseMinutes: 5 });
    expect(config.iam).toEqual({});
    expect(config.database).toMatchObject({
      engine: 'aurora-serverless-v2',
      deletionProtection: false,
      backupRetentionDays: 1,
      multiAz: false,
    });
    expect(config.edge).toMatchObject({ https: false, waf: false, idleTimeoutSeconds: 3600 });
    expect(config.platform.web.minTasks).toBe(1);
    expect(config.platform.logRetentionDays).toBe(30);
    expect(config.sandbox.capacity).toBe('spot-with-fallback');
    expect(config.sandbox.harnesses).toEqual(['opencode', 'claude-agent-sdk', 'claude-code', 'codex']);
    expect(config.git).toEqual({ hosts: ['github.com'] });
  });

  it('applies production defaults', () => {
    const config = resolveConfig('live', {
      ...base,
      production: true,
      region: 'eu-west-1',
      network: { availabilityZones: ['eu-west-1a', 'eu-west-1b'] },
      edge: { certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
    });
    expect(config.network.nat).toBe('gateway');
    expect(config.network.natGateways).toBe(2);
    expect(config.network.interfaceEndpoints).toBe(true);
    expect(config.sandbox.egress).toBe('enforced');
    expect(config.sandbox.egressGateway).toMatchObject({ tasks: 2, allowedPorts: [443, 80] });
    expect(config.platform).toMatchObject({
      services: 'split',
      capacity: 'on-demand',
      jobPollIdleMaxMs: 1000,
    });
    expect(config.monitoring).toEqual({ dashboard: true, containerInsights: true });
    expect(config.database.backupPlan).toBe(true);
    expect(config.edge).toMatchObject({ waf: true, wafLogging: true });
    expect(config.database).toMatchObject({
      deletionProtection: true,
      backupRetentionDays: 14,
      multiAz: true,
    });
    expect(config.edge).toMatchObject({ https: true, waf: true });
    expect(config.platform.web.minTasks).toBe(2);
    expect(config.platform.logRetentionDays).toBe(365);
    expect(config.sandbox.capacity).toBe('on-demand');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['gateway URL missing', { edge: { allowHttp: true } }, /litellmApiBase: .*LiteLLM gateway/],
    ['gateway URL not a URL', { ...base, litellmApiBase: 'litellm' }, /litellmApiBase: /],
    ['account not 12 digits', { ...base, account: '1234' }, /account: must be a 12-digit AWS account id/],
    ['bad region', { ...base, region: 'mars' }, /region: must be a region like eu-west-1/],
    ['unknown top-level field', { ...base, databse: {} }, /\(root\): .*databse/],
    ['unknown nested field', { ...base, database: { engin: 'instance' } }, /database: .*engin/],
    ['bad database engine', { ...base, database: { engine: 'mysql' } }, /database\.engine: /],
    [
      'min ACU above max',
      { ...base, database: { minCapacityAcu: 8, maxCapacityAcu: 4 } },
      /database\.minCapacityAcu: must not exceed maxCapacityAcu/,
    ],
    [
      'Aurora without backups',
      { ...base, database: { backupRetentionDays: 0 } },
      /database\.backupRetentionDays: Aurora always keeps at least 1 day/,
    ],
    [
      'scale to zero in production',
      { ...base, production: true, database: { minCapacityAcu: 0 } },
      /database\.minCapacityAcu: scale to zero/,
    ],
    [
      'no certificate and no allowHttp',
      { litellmApiBase: 'https://x.example.com' },
      /edge\.certificateArn: HTTPS needs a certificate.*allowHttp/,
    ],
    [
      'domain without zone or certificate',
      { ...base, edge: { domainName: 'lap.example.com' } },
      /edge\.hostedZone: is required with domainName/,
    ],
    [
      'zone without domain',
      { ...base, edge: { hostedZone: { hostedZoneId: 'Z123ABC', zoneName: 'example.com' } } },
      /edge\.domainName: is required with hostedZone/,
    ],
    [
      'certificate not an ARN',
      { ...base, edge: { certificateArn: 'my-cert' } },
      /edge\.certificateArn: must be an ACM certificate ARN/,
    ],
    [
      'bad allowed CIDR',
      { ...base, edge: { allowHttp: true, allowedCidrs: ['10.0.0.0'] } },
      /edge\.allowedCidrs\.0: must be a CIDR/,
    ],
    [
      'idle timeout too long',
      { ...base, edge: { allowHttp: true, idleTimeoutSeconds: 5000 } },
      /edge\.idleTimeoutSeconds: /,
    ],
    [
      'memory not valid for cpu',
      { ...base, platform: { web: { cpu: 256, memoryMiB: 8192 } } },
      /platform\.web\.memoryMiB: must be 512 or a multiple of 1024 between 1024 and 2048 for cpu 256/,
    ],
    ['invalid Fargate cpu', { ...base, sandbox: { cpu: 300 } }, /sandbox\.cpu: /],
    ['unknown harness', { ...base, sandbox: { harnesses: ['cursor'] } }, /sandbox\.harnesses\.0: /],
    [
      'web min above max',
      { ...base, platform: { web: { minTasks: 5, maxTasks: 2 } } },
      /platform\.web\.minTasks: must not exceed maxTasks/,
    ],
    [
      'log retention not a CloudWatch value',
      { ...base, platform: { logRetentionDays: 10 } },
      /platform\.logRetentionDays: must be one of CloudWatch's retention values/,
    ],
    [
      'image URI without tag',
      { ...base, images: { platform: 'registry.example.com/lap' } },
      /images\.platform: must be an image URI with a tag or digest/,
    ],
    [
      'gateway key secret not an ARN',
      { ...base, gatewayKeySecretArn: 'my-secret' },
      /gatewayKeySecretArn: must be a Secrets Manager secret ARN/,
    ],
    [
      'git token secret not a complete Secrets Manager ARN',
      {
        ...base,
        git: { tokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:lap/git-token' },
      },
      /git\.tokenSecretArn: must be the complete ARN of a Secrets Manager secret/,
    ],
    [
      'git token host that the vault cannot bind',
      { ...base, git: { hosts: ['github.com', 'not a host'] } },
      /git\.hosts\.1: must be a host like github\.com/,
    ],
    ['bad alarm email', { ...base, alarmEmail: 'ops' }, /alarmEmail: must be an email address/],
    [
      'no availability zones for a new VPC',
      { ...base, network: {} },
      /network\.availabilityZones: is required: list 2 or 3 zones of us-east-1, e\.g\. from `aws ec2 describe-availability-zones --region us-east-1 .*npm run preflight/,
    ],
    [
      'a zone of another region',
      { ...base, network: { availabilityZones: ['us-east-1a', 'eu-west-1b'] } },
      /network\.availabilityZones\.1: "eu-west-1b" is not a zone of the config's region us-east-1/,
    ],
    [
      'a zone twice',
      { ...base, network: { availabilityZones: ['us-east-1a', 'us-east-1a'] } },
      /network\.availabilityZones: must not list a zone twice/,
    ],
    [
      'a zone that is no zone name',
      { ...base, network: { availabilityZones: ['a', 'b'] } },
      /network\.availabilityZones\.0: must be an AZ name/,
    ],
    [
      'an imported VPC with enforced egress but no sandbox subnets',
      {
        ...base,
        sandbox: { egress: 'enforced' },
        network: {
          existingVpc: importedVpc,
        },
      },
      /network\.existingVpc\.sandboxSubnetIds: is required with sandbox\.egress "enforced": subnets without any route out/,
    ],
    ['unknown egress mode', { ...base, sandbox: { egress: 'open' } }, /sandbox\.egress: /],
    [
      'WAF logging without WAF',
      { ...base, edge: { allowHttp: true, wafLogging: true } },
      /edge\.wafLogging: needs edge\.waf true/,
    ],
    [
      'bad permissions boundary name',
      { ...base, iam: { permissionsBoundary: 'a b' } },
      /iam\.permissionsBoundary: must be an IAM policy name/,
    ],
    [
      'auto-pause below 5 minutes',
      { ...base, database: { autoPauseMinutes: 1 } },
      /database\.autoPauseMinutes: /,
    ],
    [
      'bad sandbox subnet size',
      { ...base, network: { availabilityZones: ['us-east-1a', 'us-east-1b'], sandboxSubnetCidrMask: 28 } },
      /network\.sandboxSubnetCidrMask: /,
    ],
    [
      'existing VPC with a missing subnet',
      {
        ...base,
        network: {
          existingVpc: {
            ...importedVpc,
            isolatedSubnetIds: [...importedVpc.isolatedSubnetIds, 'subnet-07000000000000000'],
          },
        },
      },
      /network\.existingVpc\.isolatedSubnetIds: must list one subnet per availability zone \(2\)/,
    ],
  ])('rejects %s, naming the field', (_case, input, expected) => {
    expect(errorOf(input)).toMatch(expected);
  });

  it('lists every bad field in one error', () => {
    const message = errorOf({ ...base, account: 'x', region: 'y' });
    expect(message).toMatch(/account: /);
    expect(message).toMatch(/region: /);
  });

  it('rejects an environment name that cannot be part of a stack name', () => {
    expect(errorOf(base, 'Prod_1')).toMatch(/Invalid environment name "Prod_1"/);
  });

  it('names the file to create for an unknown environment', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-config-'));
    fs.writeFileSync(path.join(dir, 'dev.json'), JSON.stringify(readConfigFile('dev')));
    expect(() => loadConfig('staging', dir)).toThrow(
      /No config for environment "staging": create .*staging\.json \(known: dev\)/,
    );
    fs.writeFileSync(path.join(dir, 'broken.json'), '{');
    expect(() => loadConfig('broken', dir)).toThrow(/config\/broken\.json is not valid JSON/);
  });
});
