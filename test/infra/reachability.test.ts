/**
 * Network reachability over the synthesized templates of every config in config/, in both
 * egress modes and the variants: from every subnet that runs a task or a Lambda, a way to each
 * thing the workload needs (test/infra/support/reachability.ts). Then the same check on
 * templates broken the ways that made the first deploy fail, to show it sees them.
 */
import { Reachability, workloadsOf } from './support/reachability';
import { synthesize, type Synthesized } from './support/synth';
import { TemplateModel, type CfnTemplate } from './support/template-model';
import { variants } from './support/variants';

const built = variants()
  .filter((v) => !v.importedVpc) // an imported VPC's routes are the customer's: npm run preflight checks them
  .map((variant) => ({ variant, ...synthesize(variant.envName, variant.input, { nag: false }) }));

const gapsOf = (json: CfnTemplate) => {
  const model = new TemplateModel({ stack: json });
  return new Reachability(model).gaps(workloadsOf(model));
};

const copy = (s: Synthesized): CfnTemplate => JSON.parse(JSON.stringify(s.json)) as CfnTemplate;
const byType = (json: CfnTemplate, type: string) =>
  Object.values(json.Resources).filter((r) => r.Type === type);
const dev = built.find((b) => b.variant.name === 'dev')!;
const prod = built.find((b) => b.variant.name === 'prod')!;

describe.each(built.map((b) => [b.variant.name, b] as const))('%s', (_name, { json, config }) => {
  it('gives every workload in every subnet a way to what it needs', () => {
    expect(gapsOf(json)).toEqual([]);
  });

  it('checks the services, the functions and the sandboxes', () => {
    const model = new TemplateModel({ stack: json });
    const names = workloadsOf(model).map((w) => w.name);
    expect(names.filter((n) => n.startsWith('service ')).length).toBe(
      (config.platform.services === 'combined' ? 1 : 2) + (config.sandbox.egress === 'enforced' ? 1 : 0),
    );
    expect(names.filter((n) => n.startsWith('function ')).length).toBe(4);
    expect(names).toContain('sandboxes');
  });
});

describe('the check sees a broken network', () => {
  it('a NAT instance without a public address (the first dev deploy)', () => {
    const json = copy(dev);
    for (const instance of byType(json, 'AWS::EC2::Instance')) {
      delete instance.Properties!.NetworkInterfaces[0].AssociatePublicIpAddress;
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /service .* cannot reach ecr\.api: .*NAT instance has no public address/,
    );
  });

  it('a NAT instance whose security group admits nothing', () => {
    const json = copy(dev);
    for (const group of byType(json, 'AWS::EC2::SecurityGroup')) {
      if (group.Properties!.GroupDescription === 'Security Group for NAT instances') {
        group.Properties!.SecurityGroupIngress = [];
      }
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /NAT instance's security group does not admit 10\.0\.\d+\.0\/\d+ on 443/,
    );
  });

  it('enforced sandboxes without the endpoints Fargate needs to start them', () => {
    const json = copy(prod);
    for (const [id, r] of Object.entries(json.Resources)) {
      if (
        r.Type === 'AWS::EC2::VPCEndpoint' &&
        JSON.stringify(r.Properties!.ServiceName).includes('.logs"')
      ) {
        delete json.Resources[id];
      }
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /sandboxes in NetworkVpcsandboxSubnet1\w+: cannot reach logs: no logs endpoint, and no NAT/,
    );
  });

  it('an S3 endpoint policy that leaves out the ECR layer bucket', () => {
    const json = copy(prod);
    for (const r of byType(json, 'AWS::EC2::VPCEndpoint')) {
      const policy = r.Properties!.PolicyDocument as { Statement: Array<{ Resource: unknown }> } | undefined;
      if (policy && JSON.stringify(policy).includes('starport'))
        policy.Statement[0]!.Resource = 'arn:aws:s3:::some-bucket/*';
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /sandboxes .* cannot reach s3: the endpoint policy does not allow s3:GetObject/,
    );
  });

  it('a sandbox security group without the callback port', () => {
    const json = copy(prod);
    for (const [id, r] of Object.entries(json.Resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupEgress' && r.Properties!.FromPort === 3001)
        delete json.Resources[id];
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /sandboxes .* cannot reach the callback service:3001: its security groups do not allow egress/,
    );
  });

  it("the web service or the warm-pool function without the worker's internal port", () => {
    const json = copy(prod);
    for (const [id, r] of Object.entries(json.Resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties!.FromPort === 3001)
        if (!JSON.stringify(r.Properties!.SourceSecurityGroupId).includes('Sandbox'))
          delete json.Resources[id];
    }
    const gaps = gapsOf(json).join('\n');
    expect(gaps).toMatch(/service \w*web\w*.* cannot reach the worker's internal listener:3001/i);
    expect(gaps).toMatch(/function \w*WarmPool\w*.* cannot reach the worker's internal listener:3001/i);
  });

  it('a service in subnets without a route out', () => {
    const json = copy(dev);
    for (const [id, r] of Object.entries(json.Resources)) {
      if (r.Type === 'AWS::EC2::Route' && 'InstanceId' in (r.Properties ?? {})) delete json.Resources[id];
    }
    expect(gapsOf(json).join('\n')).toMatch(
      /service .* cannot reach ecr\.dkr: no ecr\.dkr endpoint, and no NAT: its route table has no default route/,
    );
  });
});
