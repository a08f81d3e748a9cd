/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation templates are untyped JSON; the assertions check their shape. */
/**
 * The AWS side of the vault's promise (issue 12, contracts 2 and 3 of the team plan): with
 * `sandbox.egress` "enforced" (production) a sandbox has no way to the internet but the egress
 * gateway, and the internet-facing web service cannot launch sandboxes or read what they log.
 */
import { evaluate, type PolicyDocument } from './support/iam-evaluator';
import { configWith, synthesize } from './support/synth';
import { TemplateModel, type Located } from './support/template-model';

const prod = synthesize('prod', undefined, { nag: false });
const model = new TemplateModel({ stack: prod.json });
const group = (description: RegExp): Located =>
  model.ofType('AWS::EC2::SecurityGroup').find((g) => description.test(g.props.GroupDescription))!;
const sandboxGroup = group(/LAP sandbox tasks/);
const vpc = model.ofType('AWS::EC2::VPC')[0]!;

/** Every egress rule of a group: inline and separate, with its destination in words. */
function egressOf(g: Located): string[] {
  const inline = (g.props.SecurityGroupEgress ?? []) as Array<Record<string, any>>;
  const separate = model
    .ofType('AWS::EC2::SecurityGroupEgress')
    .filter((r) => model.pointsAt(r.props.GroupId, r.stack, g))
    .map((r) => r.props);
  return [...inline, ...separate].map((r) => {
    const to =
      r.CidrIp ??
      (r.DestinationSecurityGroupId &&
        model.target(r.DestinationSecurityGroupId, g.stack)?.props.GroupDescription) ??
      (r.DestinationPrefixListId && 'the S3 prefix list');
    return `${r.IpProtocol} ${r.FromPort}-${r.ToPort} to ${to}`;
  });
}

describe('production sandboxes (sandbox.egress "enforced")', () => {
  it('reach only the gateway, the endpoints, the resolver and the worker', () => {
    expect(egressOf(sandboxGroup).sort()).toEqual(
      [
        'tcp 8443-8443 to LAP egress gateway: the only way out of the sandboxes',
        'tcp 443-443 to LAP interface endpoints: HTTPS from the VPC',
        'tcp 443-443 to the S3 prefix list',
        'tcp 3001-3001 to LAP worker service (sandbox launches, internal port)',
        'udp 53-53 to 10.0.0.2/32',
        'tcp 53-53 to 10.0.0.2/32',
      ].sort(),
    );
  });

  it('sit in subnets whose route tables have no route at all (only the S3 gateway endpoint)', () => {
    const launcher = model.containers().find((c) => c.env.PLATFORM_ROLE === 'worker')!;
    const subnets = model.targets(launcher.env.SANDBOX_SUBNET_IDS, launcher.taskDefinition.stack);
    expect(subnets).toHaveLength(3);
    for (const subnet of subnets) {
      expect(subnet.props.MapPublicIpOnLaunch).toBe(false);
      const association = model
        .ofType('AWS::EC2::SubnetRouteTableAssociation')
        .find((a) => model.pointsAt(a.props.SubnetId, a.stack, subnet))!;
      const table = model.target(association.props.RouteTableId, association.stack)!;
      const routes = model
        .ofType('AWS::EC2::Route')
        .filter((r) => model.pointsAt(r.props.RouteTableId, r.stack, table));
      expect(routes).toEqual([]);
      const endpoints = model
        .ofType('AWS::EC2::VPCEndpoint')
        .filter((e) => model.pointsAt(e.props.RouteTableIds ?? [], e.stack, table));
      expect(endpoints.map((e) => JSON.stringify(e.props.ServiceName))).toEqual([
        expect.stringMatching(/\.s3"/),
      ]);
    }
    // No subnet of the VPC routes anywhere but the NAT (private) and the internet gateway (public).
    expect(model.ofType('AWS::EC2::Route').every((r) => r.props.NatGatewayId || r.props.GatewayId)).toBe(
      true,
    );
  });

  it('have their ECR, Logs and Secrets Manager endpoints, each open to this account only', () => {
    const endpoints = model.ofType('AWS::EC2::VPCEndpoint');
    for (const service of ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager']) {
      const endpoint = endpoints.find((e) => JSON.stringify(e.props.ServiceName).includes(`.${service}"`))!;
      expect([service, endpoint.props.PrivateDnsEnabled]).toEqual([service, true]);
    }
    // Every interface endpoint and the sandbox subnets' S3 endpoint. (The private subnets' S3
    // endpoint stays open: the egress gateway forwards agents' traffic to any S3 bucket the
    // vault allows, as the NAT would.)
    const restricted = endpoints.filter(
      (e) =>
        e.props.VpcEndpointType === 'Interface' ||
        JSON.stringify(e.props.PolicyDocument ?? '').includes('starport'),
    );
    expect(restricted).toHaveLength(7); // 6 interface endpoints + the sandbox S3 endpoint
    for (const endpoint of restricted) {
      const statements = endpoint.props.PolicyDocument?.Statement as Array<Record<string, any>>;
      expect(statements).toHaveLength(1);
      expect(statements[0]!.Condition).toEqual({
        StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } },
      });
    }
    const sandboxS3 = endpoints.find((e) =>
      JSON.stringify(e.props.PolicyDocument ?? '').includes('starport'),
    )!;
    expect(sandboxS3.props.PolicyDocument.Statement[0].Action).toBe('s3:GetObject');
  });

  it('reach the egress gateway by name, and the gateway runs with its certificate and token key', () => {
    const vaults = model.containers().filter((c) => c.container.Name === 'vault');
    expect(vaults).toHaveLength(4);
    for (const vault of vaults) {
      expect(vault.env.VAULT_EGRESS_GATEWAY).toBe('egress.lap-prod.internal:8443');
      // The vault refuses the VPC's own range (besides link-local and metadata), like the gateway.
      expect(vault.env.EGRESS_INTERNAL_CIDRS).toBe(vpc.props.CidrBlock);
    }
    const gateway = model.containers().find((c) => c.container.Name === 'gateway')!;
    expect((gateway.container.Secrets as Array<{ Name: string }>).map((s) => s.Name).sort()).toEqual([
      'EGRESS_GATEWAY_TLS_CERT',
      'EGRESS_GATEWAY_TLS_KEY',
      'EGRESS_TOKEN_KEY',
    ]);
    expect(gateway.env).toEqual({
      EGRESS_GATEWAY_ALLOWED_PORTS: '443,80',
      EGRESS_GATEWAY_DENY_CIDRS: vpc.props.CidrBlock,
    });
    // ECS ignores an image's HEALTHCHECK: the task definition runs the binary's own check (the
    // distroless image has no shell or curl).
    expect(gateway.container.HealthCheck.Command).toEqual(['CMD', '/egress-gateway', '-healthcheck']);
    const registry = model.ofType('AWS::ServiceDiscovery::Service').map((s) => s.props.Name);
    expect(registry.sort()).toEqual(['egress', 'worker']);
    // The certificate is issued for the name the vaults verify.
    const ca = model.ofType('Custom::LapVaultCertificateAuthority')[0]!;
    expect(ca.props.GatewayServerName).toBe('lap-egress-gateway');
    // Only the gateway and the worker (which mints the tokens) hold the token key.
    const holders = model
      .containers()
      .filter((c) =>
        ((c.container.Secrets ?? []) as Array<{ Name: string }>).some((s) => s.Name === 'EGRESS_TOKEN_KEY'),
      )
      .map((c) => c.env.PLATFORM_ROLE ?? c.container.Name);
    expect(holders.sort()).toEqual(['gateway', 'worker']);
  });

  it('admit the gateway only from the sandboxes', () => {
    const gatewayGroup = group(/LAP egress gateway/);
    const ingress = model
      .ofType('AWS::EC2::SecurityGroupIngress')
      .filter((r) => model.pointsAt(r.props.GroupId, r.stack, gatewayGroup));
    expect(
      ingress.map((r) => [r.props.FromPort, model.target(r.props.SourceSecurityGroupId, r.stack)?.id]),
    ).toEqual([[8443, sandboxGroup.id]]);
  });
});

describe('advisory egress (development)', () => {
  it('lets sandboxes out on 80 and 443 through the NAT, and says so at synth', () => {
    const dev = synthesize('dev', undefined, { nag: false });
    const devModel = new TemplateModel({ stack: dev.json });
    const sandbox = devModel
      .ofType('AWS::EC2::SecurityGroup')
      .find((g) => /LAP sandbox tasks/.test(g.props.GroupDescription))!;
    const inline = (sandbox.props.SecurityGroupEgress as Array<Record<string, any>>).map(
      (r) => `${r.FromPort} ${r.CidrIp}`,
    );
    expect(inline).toEqual(expect.arrayContaining(['443 0.0.0.0/0', '80 0.0.0.0/0']));
    expect(
      devModel
        .ofType('AWS::ECS::Service')
        .map((s) => s.logicalId)
        .join(),
    ).not.toMatch(/EgressGateway/);
    expect(dev.stack.node.metadata.map((m) => String(m.data)).join('\n')).toMatch(
      /sandbox\.egress "advisory"/,
    );
  });

  it('keeps the sandbox subnets when the mode changes: only routes and endpoints differ', () => {
    const enforced = synthesize('dev', configWith('dev', { sandbox: { egress: 'enforced' } }), {
      nag: false,
    });
    const subnets = (json: typeof enforced.json) =>
      Object.entries(json.Resources)
        .filter(([, r]) => r.Type === 'AWS::EC2::Subnet')
        .map(([id, r]) => `${id} ${r.Properties!.CidrBlock}`)
        .sort();
    const dev = synthesize('dev', undefined, { nag: false });
    expect(subnets(enforced.json)).toEqual(subnets(dev.json));
  });
});

describe('roles (contract 3)', () => {
  /** The inline policies of the role whose description matches. */
  function policiesOf(description: RegExp): PolicyDocument[] {
    const role = model.ofType('AWS::IAM::Role').find((r) => description.test(r.props.Description ?? ''))!;
    return model
      .ofType('AWS::IAM::Policy')
      .filter((p) => model.pointsAt(p.props.Roles, p.stack, role))
      .map((p) => {
        // Resolve the ARNs the statements name to their logical ids, so a check can name them.
        const text = JSON.stringify(p.props.PolicyDocument).replace(
          /\{"(Ref|Fn::GetAtt)":\[?"(\w+)"[^}]*\}/g,
          '"$2"',
        );
        return JSON.parse(
          text.replace(/\{"Fn::Join":\["",\[[^\]]*?"(\w+)"[^\]]*\]\]\}/g, '"$1"'),
        ) as PolicyDocument;
      });
  }
  const web = policiesOf(/^LAP web service/);
  const worker = policiesOf(/^LAP worker service/);
  const sandboxLogGroup = model
    .ofType('AWS::Logs::LogGroup')
    .find((g) => g.logicalId.startsWith('PlatformSandboxesLogs'))!;
  const anything = (action: string) => ({ action, resource: '*' });
  const allowsAny = (policies: PolicyDocument[], action: string) =>
    policies.some((p) =>
      p.Statement.some((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => a === action)),
    );

  it('the web role cannot launch a sandbox, pass a role, read sandbox logs or decrypt', () => {
    expect(allowsAny(web, 'ecs:RunTask')).toBe(false);
    expect(allowsAny(web, 'iam:PassRole')).toBe(false);
    expect(allowsAny(web, 'ecs:RegisterTaskDefinition')).toBe(false);
    expect(allowsAny(web, 'kms:Decrypt')).toBe(false);
    for (const action of ['logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery', 'logs:*']) {
      expect([action, evaluate(web, anything(action))]).toEqual([action, 'not allowed']);
    }
    expect(JSON.stringify(web)).not.toContain(sandboxLogGroup.logicalId);
    // It still observes and stops sandboxes, and encrypts agent secrets.
    for (const action of [
      'ecs:DescribeTasks',
      'ecs:ListTasks',
      'ecs:StopTask',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    ]) {
      expect([action, allowsAny(web, action)]).toEqual([action, true]);
    }
  });

  it('the worker role launches, passes the sandbox roles, decrypts and reads sandbox logs', () => {
    for (const action of [
      'ecs:RunTask',
      'iam:PassRole',
      'kms:Decrypt',
      'logs:GetLogEvents',
      'ecs:StopTask',
    ]) {
      expect([action, allowsAny(worker, action)]).toEqual([action, true]);
    }
    expect(JSON.stringify(worker)).toContain(sandboxLogGroup.logicalId);
  });

  it('the two services run with their own role and security group', () => {
    const services = model.ofType('AWS::ECS::Service').filter((s) => !s.logicalId.includes('EgressGateway'));
    const roleOf = (s: Located) => {
      const taskDefinition = model.target(s.props.TaskDefinition, s.stack)!;
      return model.target(taskDefinition.props.TaskRoleArn, s.stack)!.props.Description as string;
    };
    const groupsOf = (s: Located) =>
      model
        .targets(s.props.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups, s.stack)
        .map((g) => g.props.GroupDescription as string);
    expect(services.map((s) => [roleOf(s).split(':')[0], groupsOf(s)]).sort()).toEqual([
      ['LAP web service', ['LAP web service (public API)']],
      ['LAP worker service', ['LAP worker service (sandbox launches, internal port)']],
    ]);
  });
});
