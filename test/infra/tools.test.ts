import { bootstrapCommand, createPolicyCommands } from '../../tools/bootstrap';
import { auroraAwakeHours, estimateCost, runsPerMonth, synthesizeTemplate } from '../../tools/cost';
import { loadConfig, type DeploymentConfig } from '../../lib/config';

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

  it('restricts CloudFormation to the least-privilege policies and their boundary', () => {
    const args = bootstrapCommand({ envName: 'prod', leastPrivilege: true });
    const policies = args[args.indexOf('--cloudformation-execution-policies') + 1]!.split(',');
    expect(policies).toEqual([
      'arn:aws:iam::123456789012:policy/lap-cdk-execution-data-and-logs',
      'arn:aws:iam::123456789012:policy/lap-cdk-execution-identity-and-edge',
      'arn:aws:iam::123456789012:policy/lap-cdk-execution-network-and-compute',
    ]);
    expect(args.slice(-2)).toEqual(['--custom-permissions-boundary', 'lap-permissions-boundary']);
    // Every policy the bootstrap names is one the printed commands create.
    const created = createPolicyCommands().map((c) => /--policy-name (\S+)/.exec(c)![1]);
    expect(created).toEqual(
      expect.arrayContaining([...policies.map((p) => p.split('/')[1]), 'lap-permissions-boundary']),
    );
  });

  it('refuses least privilege for a config whose roles would not carry the boundary', () => {
    expect(() => bootstrapCommand({ envName: 'dev', leastPrivilege: true })).toThrow(/needs the account/);
  });

  it('restricts CloudFormation to a given execution policy', () => {
    const arn = 'arn:aws:iam::123456789012:policy/lap-cdk-execution';
    expect(bootstrapCommand({ envName: 'prod', executionPolicyArns: [arn] }).slice(-2)).toEqual([
      '--cloudformation-execution-policies',
      arn,
    ]);
    expect(() => bootstrapCommand({ envName: 'prod', executionPolicyArns: ['AdministratorAccess'] })).toThrow(
      /--execution-policy must be an IAM policy ARN/,
    );
  });
});

describe('npm run cost', () => {
  const report = (
    envName: string,
    change: (c: DeploymentConfig) => DeploymentConfig = (c) => c,
    backsOff = true,
  ) => {
    const config = change(loadConfig(envName));
    return estimateCost(config, synthesizeTemplate(config), { platformBacksOffWhenIdle: backsOff });
  };
  const line = (r: ReturnType<typeof report>, item: RegExp) => r.lines.find((l) => item.test(l.item));
  const enforced = (c: DeploymentConfig) => ({
    ...c,
    sandbox: { ...c.sandbox, egress: 'enforced' as const },
  });
  const advisory = (c: DeploymentConfig) => ({
    ...c,
    sandbox: { ...c.sandbox, egress: 'advisory' as const },
  });

  it('keeps the development baseline at or under $45 once the platform stops polling an empty queue', () => {
    const dev = report('dev');
    expect(dev.monthlyTotal).toBeLessThanOrEqual(45);
    expect(dev.monthlyTotal).toBeCloseTo(
      dev.lines.reduce((s, l) => s + l.monthly, 0),
      1,
    );
    // What it is made of: a NAT instance with its public address, the ALB, one small Spot task.
    expect(line(dev, /^NAT instance/)!.quantity).toBe(1);
    expect(line(dev, /^Public IPv4/)!.item).toContain('1 NAT instance, 2 ALB');
    expect(line(dev, /Fargate platform \(web \+ worker in one task\).*Spot/)!.quantity).toBe(1);
    expect(line(dev, /^Aurora Serverless v2 paused/)!.monthly).toBeLessThan(2);
    expect(dev.lines.map((l) => l.item).join('\n')).not.toMatch(
      /NAT gateway|Interface endpoints|WAF|dashboard|egress gateway/,
    );
  });

  it('counts the database awake all month while the platform polls every second', () => {
    const dev = report('dev', undefined, false);
    expect(line(dev, /^Aurora Serverless v2/)!.quantity).toBeCloseTo(730 * 0.5, 0);
    expect(dev.notes.join()).toMatch(/does not read JOB_POLL_IDLE_MAX_MS yet/);
    expect(dev.monthlyTotal).toBeGreaterThan(80);
  });

  it('prices the enforced egress mode: the gateway task and the endpoints Fargate needs', () => {
    const advisoryDev = report('dev');
    const enforcedDev = report('dev', enforced);
    expect(line(enforcedDev, /Fargate egress gateway/)!.quantity).toBe(1);
    // ECR api, ECR dkr, Logs, Secrets Manager in each of the 2 AZs.
    expect(line(enforcedDev, /^Interface endpoints/)!.quantity).toBe(8);
    expect(enforcedDev.monthlyTotal).toBeGreaterThan(advisoryDev.monthlyTotal + 50);
    expect(enforcedDev.byComponent['Egress gateway']).toBeGreaterThan(0);
  });

  it('prices production per component in both egress modes', () => {
    const prod = report('prod');
    expect(prod.egress).toBe('enforced');
    expect(line(prod, /^NAT gateway/)!.quantity).toBe(3);
    expect(line(prod, /^NAT gateway/)!.monthly).toBeCloseTo(3 * 0.045 * 730, 1);
    expect(line(prod, /^Interface endpoints/)!.quantity).toBe(18); // 6 services x 3 AZs
    expect(line(prod, /Aurora Serverless v2, 2 instance\(s\) at 1 ACU, always on/)).toBeDefined();
    expect(line(prod, /Fargate egress gateway/)!.quantity).toBe(2);
    expect(line(prod, /Container Insights/)).toBeDefined();
    expect(line(prod, /AWS Backup/)).toBeDefined();
    const advisoryProd = report('prod', advisory);
    expect(advisoryProd.byComponent['Egress gateway']).toBeUndefined();
    expect(advisoryProd.monthlyTotal).toBeLessThan(prod.monthlyTotal);
    expect(Object.keys(prod.byComponent)).toEqual(
      expect.arrayContaining([
        'Network',
        'Load balancer and WAF',
        'Database',
        'Platform services',
        'Egress gateway',
      ]),
    );
    expect(prod.sandboxHour.spot).toBeLessThan(prod.sandboxHour.onDemand);
  });

  it('counts schedule runs and database wakes from the template', () => {
    expect(runsPerMonth('rate(1 minute)')).toBe(43_800);
    expect(runsPerMonth('rate(5 minutes)')).toBe(8_760);
    const template = {
      Resources: {
        T: {
          Type: 'AWS::ECS::TaskDefinition',
          Properties: {
            ContainerDefinitions: [
              {
                Environment: [
                  { Name: 'PLATFORM_ROLE', Value: 'all' },
                  { Name: 'JOB_POLL_IDLE_MAX_MS', Value: '3600000' },
                ],
              },
            ],
          },
        },
      },
    };
    // Hourly polls with a 5-minute pause delay: 24 + 1 + 1/7 wakes a day of 6 minutes each.
    expect(auroraAwakeHours(template, 300, true).hours).toBeCloseTo(((25 + 1 / 7) * 30.4167 * 360) / 3600, 1);
    // A poll more often than the pause delay keeps the database awake.
    expect(auroraAwakeHours(template, 7200, true).hours).toBe(730);
  });
});
