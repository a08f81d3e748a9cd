import { bootstrapCommand } from '../../tools/bootstrap';
import { estimateCost, synthesizeTemplates } from '../../tools/cost';
import { loadConfig } from '../../lib/config';

describe('npm run bootstrap', () => {
  it('bootstraps the account and region of the config', () => {
    expect(bootstrapCommand({ envName: 'prod' })).toEqual([
      'cdk',
      'bootstrap',
      'aws://123456789012/eu-west-1',
      '--tags',
      'lap:environment=prod',
    ]);
  });

  it('uses the credentials account when the config names none', () => {
    expect(bootstrapCommand({ envName: 'dev' })[2]).toBe('aws://unknown-account/us-east-1');
  });

  it('restricts CloudFormation to the given execution policy', () => {
    const arn = 'arn:aws:iam::123456789012:policy/lap-cdk-execution';
    expect(bootstrapCommand({ envName: 'prod', executionPolicyArn: arn }).slice(-2)).toEqual([
      '--cloudformation-execution-policies',
      arn,
    ]);
    expect(() => bootstrapCommand({ envName: 'prod', executionPolicyArn: 'AdministratorAccess' })).toThrow(
      /--execution-policy must be an IAM policy ARN/,
    );
  });
});

describe('npm run cost', () => {
  it.each([
    ['dev', { nat: 'NAT instance', db: /Aurora storage/, absent: /NAT gateway|Interface endpoints|WAF/ }],
    [
      'prod',
      {
        nat: 'NAT gateway',
        db: /Aurora Serverless v2 \(2 instance\(s\) at min 1 ACU\)/,
        absent: /NAT instance/,
      },
    ],
  ] as const)('prices the %s baseline from its templates', (envName, expected) => {
    const config = loadConfig(envName);
    const report = estimateCost(config, synthesizeTemplates(config));
    const items = report.lines.map((l) => l.item).join('\n');
    expect(items).toContain(expected.nat);
    expect(items).toMatch(expected.db);
    expect(items).not.toMatch(expected.absent);
    expect(report.monthlyTotal).toBeCloseTo(
      report.lines.reduce((s, l) => s + l.monthly, 0),
      1,
    );
    if (envName === 'prod') {
      const nat = report.lines.find((l) => l.item === 'NAT gateway')!;
      expect(nat.quantity).toBe(3);
      expect(nat.monthly).toBeCloseTo(3 * 0.045 * 730, 1);
      expect(report.lines.find((l) => l.item === 'Interface endpoints')!.quantity).toBe(18); // 6 endpoints x 3 AZs
    }
    expect(report.sandboxHour.spot).toBeLessThan(report.sandboxHour.onDemand);
  });
});
