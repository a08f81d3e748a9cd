/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation templates are untyped JSON; the readers below check their shape. */
/**
 * Network reachability over synthesized templates: for every workload that runs in a subnet (the
 * ECS services, the VPC Lambdas, the sandbox tasks the worker launches), whether each thing it
 * needs is reachable from each of its subnets with its security groups: an AWS API through a VPC
 * endpoint (private DNS, security groups both ways, endpoint policy) or through a NAT (a NAT
 * gateway with an address in a public subnet, or a NAT instance with a public address, source/dest
 * check off and a security group that admits the subnet); the internet through a NAT; a peer
 * (database, worker, egress gateway) through both security groups. Returns every gap, in words.
 */
import type { Located, TemplateModel } from './template-model';

export type AwsService = 'ecr.api' | 'ecr.dkr' | 's3' | 'logs' | 'secretsmanager' | 'ecs' | 'kms';

export type Need =
  | { kind: 'aws'; service: AwsService }
  | { kind: 'internet'; port: number }
  | { kind: 'peer'; name: string; securityGroups: Located[]; port: number }
  | { kind: 'dns' }
  | { kind: 'unresolved'; what: string };

export interface Workload {
  name: string;
  stack: string;
  subnets: Located[];
  securityGroups: Located[];
  needs: Need[];
}

const TASK_START: Need[] = (['ecr.api', 'ecr.dkr', 's3', 'logs', 'secretsmanager'] as const).map(
  (service) => ({
    kind: 'aws',
    service,
  }),
);

/** A security group rule, inline or its own resource, with the group it belongs to. */
interface Rule {
  group: Located;
  direction: 'in' | 'out';
  protocol: string;
  from: number;
  to: number;
  cidr?: string;
  peer?: Located;
  prefixList?: boolean;
}

function ipv4(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Whether CIDR `outer` contains CIDR (or address) `inner`. */
export function cidrContains(outer: string, inner: string): boolean {
  const [oa, op] = outer.split('/');
  const [ia, ip] = inner.split('/');
  const outerBits = Number(op ?? 32);
  const innerBits = Number(ip ?? 32);
  if (innerBits < outerBits) return false;
  const size = 2 ** (32 - outerBits);
  return Math.floor(ipv4(oa!) / size) === Math.floor(ipv4(ia!) / size);
}

export class Reachability {
  private readonly rules: Rule[];

  constructor(private readonly model: TemplateModel) {
    this.rules = this.collectRules();
  }

  private collectRules(): Rule[] {
    const m = this.model;
    const rules: Rule[] = [];
    const add = (group: Located, direction: 'in' | 'out', raw: Record<string, any>, stack: string) => {
      const protocol = String(raw.IpProtocol);
      rules.push({
        group,
        direction,
        protocol,
        from: protocol === '-1' ? 0 : Number(raw.FromPort ?? 0),
        to: protocol === '-1' ? 65535 : Number(raw.ToPort ?? 65535),
        cidr: typeof raw.CidrIp === 'string' ? raw.CidrIp : undefined,
        peer: m.target(
          direction === 'in' ? raw.SourceSecurityGroupId : raw.DestinationSecurityGroupId,
          stack,
        ),
        prefixList: raw.DestinationPrefixListId !== undefined || raw.SourcePrefixListId !== undefined,
      });
    };
    for (const group of m.ofType('AWS::EC2::SecurityGroup')) {
      for (const r of group.props.SecurityGroupIngress ?? []) add(group, 'in', r, group.stack);
      for (const r of group.props.SecurityGroupEgress ?? []) add(group, 'out', r, group.stack);
    }
    for (const [type, direction] of [
      ['AWS::EC2::SecurityGroupIngress', 'in'],
      ['AWS::EC2::SecurityGroupEgress', 'out'],
    ] as const) {
      for (const r of m.ofType(type)) {
        const group = m.target(r.props.GroupId, r.stack);
        if (group) add(group, direction, r.props, r.stack);
      }
    }
    return rules;
  }

  private allows(
    groups: Located[],
    direction: 'in' | 'out',
    port: number,
    protocol: 'tcp' | 'udp',
    other: { cidr?: string; groups?: Located[]; prefixList?: boolean },
  ): boolean {
    return this.rules.some(
      (r) =>
        groups.some((g) => g.id === r.group.id) &&
        r.direction === direction &&
        (r.protocol === '-1' ||
          r.protocol === protocol ||
          r.protocol === String(protocol === 'tcp' ? 6 : 17)) &&
        r.from <= port &&
        port <= r.to &&
        ((r.cidr !== undefined && other.cidr !== undefined && cidrContains(r.cidr, other.cidr)) ||
          (r.peer !== undefined && (other.groups ?? []).some((g) => g.id === r.peer!.id)) ||
          (r.prefixList === true && other.prefixList === true)),
    );
  }

  /** The route table of a subnet and its routes. */
  private routesOf(subnet: Located): Located[] {
    const m = this.model;
    const association = m
      .ofType('AWS::EC2::SubnetRouteTableAssociation')
      .find((a) => m.pointsAt(a.props.SubnetId, a.stack, subnet));
    const table = association && m.target(association.props.RouteTableId, association.stack);
    if (!table) return [];
    return m.ofType('AWS::EC2::Route').filter((r) => m.pointsAt(r.props.RouteTableId, r.stack, table));
  }

  private routeTableOf(subnet: Located): Located | undefined {
    const m = this.model;
    const association = m
      .ofType('AWS::EC2::SubnetRouteTableAssociation')
      .find((a) => m.pointsAt(a.props.SubnetId, a.stack, subnet));
    return association && m.target(association.props.RouteTableId, association.stack);
  }

  private isPublicSubnet(subnet: Located): boolean {
    const m = this.model;
    return this.routesOf(subnet).some((route) => {
      if (route.props.DestinationCidrBlock !== '0.0.0.0/0') return false;
      const gateway = m.target(route.props.GatewayId, route.stack);
      if (gateway?.resource.Type !== 'AWS::EC2::InternetGateway') return false;
      return m
        .ofType('AWS::EC2::VPCGatewayAttachment')
        .some((a) => m.pointsAt(a.props.InternetGatewayId, a.stack, gateway));
    });
  }

  /** Why the subnet has no working way to the internet on `port`, or undefined when it has one. */
  natGap(subnet: Located, groups: Located[], port: number): string | undefined {
    const m = this.model;
    const route = this.routesOf(subnet).find((r) => r.props.DestinationCidrBlock === '0.0.0.0/0');
    if (!route) return 'its route table has no default route';
    if (!this.allows(groups, 'out', port, 'tcp', { cidr: '0.0.0.0/0' })) {
      return `its security groups do not allow egress to 0.0.0.0/0 on ${port}`;
    }
    const gateway = m.target(route.props.NatGatewayId, route.stack);
    if (gateway) {
      const natSubnet = m.target(gateway.props.SubnetId, gateway.stack);
      if (gateway.props.ConnectivityType === 'private') return 'its NAT gateway is private';
      if (!gateway.props.AllocationId) return 'its NAT gateway has no Elastic IP';
      if (!natSubnet || !this.isPublicSubnet(natSubnet)) return 'its NAT gateway is not in a public subnet';
      return undefined;
    }
    const instance = m.target(route.props.InstanceId, route.stack);
    if (instance) {
      const p = instance.props;
      const nic = (p.NetworkInterfaces ?? [])[0] as Record<string, any> | undefined;
      const natSubnet = m.target(nic?.SubnetId ?? p.SubnetId, instance.stack);
      if (p.SourceDestCheck !== false) return 'its NAT instance checks source/destination';
      if (!natSubnet || !this.isPublicSubnet(natSubnet)) return 'its NAT instance is not in a public subnet';
      const eip = m.ofType('AWS::EC2::EIP').some((e) => m.pointsAt(e.props.InstanceId, e.stack, instance));
      if (nic?.AssociatePublicIpAddress !== true && natSubnet.props.MapPublicIpOnLaunch !== true && !eip) {
        return 'its NAT instance has no public address';
      }
      const natGroups = m.targets(nic?.GroupSet ?? p.SecurityGroupIds ?? [], instance.stack);
      const subnetCidr = subnet.props.CidrBlock as string;
      if (!this.allows(natGroups, 'in', port, 'tcp', { cidr: subnetCidr, groups })) {
        return `its NAT instance's security group does not admit ${subnetCidr} on ${port}`;
      }
      if (!this.allows(natGroups, 'out', port, 'tcp', { cidr: '0.0.0.0/0' })) {
        return `its NAT instance's security group does not allow egress on ${port}`;
      }
      return undefined;
    }
    return 'its default route goes neither to a NAT gateway nor to a NAT instance';
  }

  /** Why `service` is unreachable from the subnet, or undefined when it is reachable. */
  awsGap(subnet: Located, groups: Located[], service: AwsService): string | undefined {
    const m = this.model;
    if (service === 's3') {
      const table = this.routeTableOf(subnet);
      const endpoint = m
        .ofType('AWS::EC2::VPCEndpoint')
        .find(
          (e) =>
            JSON.stringify(e.props.ServiceName).includes('.s3"') &&
            (e.props.VpcEndpointType ?? 'Gateway') === 'Gateway' &&
            table !== undefined &&
            m.pointsAt(e.props.RouteTableIds ?? [], e.stack, table),
        );
      if (endpoint) {
        if (!this.allows(groups, 'out', 443, 'tcp', { cidr: '0.0.0.0/0', prefixList: true })) {
          return 'its security groups do not allow egress to the S3 prefix list on 443';
        }
        return this.policyGap(endpoint, 's3:GetObject', 'starport-layer-bucket');
      }
      const nat = this.natGap(subnet, groups, 443);
      return nat && `no S3 gateway endpoint on its route table, and no NAT: ${nat}`;
    }
    const endpoint = m
      .ofType('AWS::EC2::VPCEndpoint')
      .find(
        (e) =>
          e.props.VpcEndpointType === 'Interface' &&
          JSON.stringify(e.props.ServiceName).includes(`.${service}"`),
      );
    if (endpoint) {
      if (endpoint.props.PrivateDnsEnabled !== true) return `the ${service} endpoint has no private DNS`;
      const endpointGroups = m.targets(endpoint.props.SecurityGroupIds ?? [], endpoint.stack);
      const endpointCidrs = m
        .targets(endpoint.props.SubnetIds ?? [], endpoint.stack)
        .map((s) => s.props.CidrBlock as string);
      const out = endpointCidrs.every((cidr) =>
        this.allows(groups, 'out', 443, 'tcp', { cidr, groups: endpointGroups }),
      );
      if (!out) return `its security groups do not allow egress to the ${service} endpoint on 443`;
      if (
        !this.allows(endpointGroups, 'in', 443, 'tcp', { cidr: subnet.props.CidrBlock as string, groups })
      ) {
        return `the ${service} endpoint's security group does not admit it on 443`;
      }
      return this.policyGap(endpoint, service === 'ecr.dkr' ? 'ecr:BatchGetImage' : '*', '*');
    }
    const nat = this.natGap(subnet, groups, 443);
    return nat && `no ${service} endpoint, and no NAT: ${nat}`;
  }

  /** Whether an endpoint policy (if any) allows `action` on a resource containing `resourcePart`. */
  private policyGap(endpoint: Located, action: string, resourcePart: string): string | undefined {
    const policy = endpoint.props.PolicyDocument as { Statement: Array<Record<string, any>> } | undefined;
    if (!policy) return undefined;
    const allowed = policy.Statement.some((s) => {
      const actions = [s.Action].flat() as string[];
      const resources = [s.Resource].flat().map((r) => JSON.stringify(r));
      return (
        s.Effect === 'Allow' &&
        actions.some(
          (a) => a === '*' || a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1))),
        ) &&
        (resourcePart === '*' || resources.some((r) => r === '"*"' || r.includes(resourcePart)))
      );
    });
    return allowed ? undefined : `the endpoint policy does not allow ${action} on ${resourcePart}`;
  }

  gap(workload: Workload, subnet: Located, need: Need): string | undefined {
    const groups = workload.securityGroups;
    switch (need.kind) {
      case 'aws':
        return this.awsGap(subnet, groups, need.service);
      case 'internet':
        return this.natGap(subnet, groups, need.port);
      case 'dns': {
        const vpcCidr = (this.model.ofType('AWS::EC2::VPC')[0]?.props.CidrBlock as string) ?? '10.0.0.0/16';
        const [base] = vpcCidr.split('/');
        const resolver = [24, 16, 8, 0].map((s) => Math.floor((ipv4(base!) + 2) / 2 ** s) % 256).join('.');
        return this.allows(groups, 'out', 53, 'udp', { cidr: `${resolver}/32` })
          ? undefined
          : 'its security groups do not allow DNS (udp 53) to the VPC resolver';
      }
      case 'peer': {
        const target = need.securityGroups;
        // A CIDR rule reaches the peer when it covers the VPC (the peer's address is somewhere in it).
        const vpcCidr = this.model.ofType('AWS::EC2::VPC')[0]?.props.CidrBlock as string | undefined;
        if (!this.allows(groups, 'out', need.port, 'tcp', { groups: target, cidr: vpcCidr })) {
          return `its security groups do not allow egress to ${need.name} on ${need.port}`;
        }
        if (
          !this.allows(target, 'in', need.port, 'tcp', { groups, cidr: subnet.props.CidrBlock as string })
        ) {
          return `${need.name}'s security group does not admit it on ${need.port}`;
        }
        return undefined;
      }
      case 'unresolved':
        return need.what;
    }
  }

  /** Every gap of every workload in every one of its subnets. */
  gaps(workloads: Workload[]): string[] {
    const found: string[] = [];
    for (const workload of workloads) {
      if (!workload.subnets.length) found.push(`${workload.name}: runs in no subnet of the template`);
      for (const subnet of workload.subnets) {
        for (const need of workload.needs) {
          const gap = this.gap(workload, subnet, need);
          if (gap)
            found.push(`${workload.name} in ${subnet.logicalId}: cannot reach ${describe(need)}: ${gap}`);
        }
      }
    }
    return found;
  }
}

function describe(need: Need): string {
  switch (need.kind) {
    case 'aws':
      return need.service;
    case 'internet':
      return `the internet on ${need.port}`;
    case 'dns':
      return 'DNS';
    case 'peer':
      return `${need.name}:${need.port}`;
    case 'unresolved':
      return 'a dependency';
  }
}

/**
 * The workloads of the templates and what each needs: every ECS service (task start; the
 * platform also the database, ECS, KMS and Secrets Manager; the egress gateway the internet),
 * every VPC Lambda (Secrets Manager, the database; the schedulers ECS) and the sandboxes the
 * worker launches (task start, the worker's callback port, DNS, and the internet or the egress
 * gateway depending on the egress mode).
 */
export function workloadsOf(model: TemplateModel): Workload[] {
  const workloads: Workload[] = [];
  const databaseGroups = model
    .ofType('AWS::RDS::DBCluster')
    .concat(model.ofType('AWS::RDS::DBInstance').filter((i) => !i.props.DBClusterIdentifier))
    // A cluster names its groups VpcSecurityGroupIds, an instance VPCSecurityGroups.
    .flatMap((d) => model.targets(d.props.VpcSecurityGroupIds ?? d.props.VPCSecurityGroups ?? [], d.stack));
  const database: Need = { kind: 'peer', name: 'the database', securityGroups: databaseGroups, port: 5432 };
  const containers = model.containers();
  const serviceOf = (cloudMapName: string): Located | undefined =>
    model
      .ofType('AWS::ECS::Service')
      .find((s) =>
        (s.props.ServiceRegistries ?? []).some(
          (r: Record<string, any>) => model.target(r.RegistryArn, s.stack)?.props.Name === cloudMapName,
        ),
      );
  const groupsOf = (service: Located) =>
    model.targets(
      service.props.NetworkConfiguration?.AwsvpcConfiguration?.SecurityGroups ?? [],
      service.stack,
    );
  /** WORKER_INTERNAL_URL: the service that registers its host, on its port. */
  const workerNeed = (value: unknown): Need => {
    if (typeof value !== 'string') return { kind: 'unresolved', what: 'WORKER_INTERNAL_URL is not set' };
    const url = new URL(value);
    const worker = serviceOf(url.hostname.split('.')[0]!);
    return worker
      ? {
          kind: 'peer',
          name: "the worker's internal listener",
          securityGroups: groupsOf(worker),
          port: Number(url.port),
        }
      : { kind: 'unresolved', what: `no service registers the worker host ${url.hostname}` };
  };

  for (const service of model.ofType('AWS::ECS::Service')) {
    const taskDefinition = model.target(service.props.TaskDefinition, service.stack);
    const env = Object.assign(
      {},
      ...containers.filter((c) => c.taskDefinition.id === taskDefinition?.id).map((c) => c.env),
    ) as Record<string, unknown>;
    const needs: Need[] = [...TASK_START];
    if ('PLATFORM_ROLE' in env) {
      needs.push({ kind: 'aws', service: 'ecs' }, { kind: 'aws', service: 'kms' }, database);
    }
    // The web role calls a worker's internal listener (the other roles are that listener).
    if (env.PLATFORM_ROLE === 'web') needs.push(workerNeed(env.WORKER_INTERNAL_URL));
    if ('EGRESS_GATEWAY_ALLOWED_PORTS' in env) {
      for (const port of String(env.EGRESS_GATEWAY_ALLOWED_PORTS).split(',')) {
        needs.push({ kind: 'internet', port: Number(port) });
      }
    }
    workloads.push({
      name: `service ${service.logicalId}`,
      stack: service.stack,
      subnets: model.targets(
        service.props.NetworkConfiguration?.AwsvpcConfiguration?.Subnets ?? [],
        service.stack,
      ),
      securityGroups: groupsOf(service),
      needs,
    });
  }

  for (const fn of model.ofType('AWS::Lambda::Function')) {
    const vpc = fn.props.VpcConfig as Record<string, unknown> | undefined;
    if (!vpc) continue;
    const env = (fn.props.Environment?.Variables ?? {}) as Record<string, unknown>;
    const needs: Need[] = [{ kind: 'aws', service: 'secretsmanager' }];
    if ('DB_HOST' in env) needs.push(database);
    if ('SANDBOX_CLUSTER_ARN' in env) needs.push({ kind: 'aws', service: 'ecs' });
    if ('WORKER_INTERNAL_URL' in env) needs.push(workerNeed(env.WORKER_INTERNAL_URL));
    workloads.push({
      name: `function ${fn.logicalId}`,
      stack: fn.stack,
      subnets: model.targets(vpc.SubnetIds, fn.stack),
      securityGroups: model.targets(vpc.SecurityGroupIds, fn.stack),
      needs,
    });
  }

  // The sandboxes: where the launcher puts them (the worker's settings) and what their vault does.
  const launcher = containers.find((c) => 'SANDBOX_SUBNET_IDS' in c.env && c.env.PLATFORM_ROLE !== 'web');
  if (launcher) {
    const stack = launcher.taskDefinition.stack;
    const vaultEnv = containers.find((c) => c.container.Name === 'vault')?.env ?? {};
    const callback = new URL(String(launcher.env.CALLBACK_URL));
    const callbackService = serviceOf(callback.hostname.split('.')[0]!);
    const needs: Need[] = [...TASK_START, { kind: 'dns' }];
    if (callbackService) {
      needs.push({
        kind: 'peer',
        name: 'the callback service',
        securityGroups: groupsOf(callbackService),
        port: Number(callback.port),
      });
    } else {
      needs.push({ kind: 'unresolved', what: `no service registers the callback host ${callback.hostname}` });
    }
    if (typeof vaultEnv.VAULT_EGRESS_GATEWAY === 'string') {
      const [host, port] = vaultEnv.VAULT_EGRESS_GATEWAY.split(':');
      const gateway = serviceOf(host!.split('.')[0]!);
      if (!gateway)
        needs.push({ kind: 'unresolved', what: `no service registers the egress gateway ${host}` });
      else
        needs.push({
          kind: 'peer',
          name: 'the egress gateway',
          securityGroups: groupsOf(gateway),
          port: Number(port),
        });
    } else {
      needs.push({ kind: 'internet', port: 443 }, { kind: 'internet', port: 80 });
    }
    workloads.push({
      name: 'sandboxes',
      stack,
      subnets: model.targets(launcher.env.SANDBOX_SUBNET_IDS, stack),
      securityGroups: [model.target(launcher.env.SANDBOX_SECURITY_GROUP_ID, stack)].filter(
        (g): g is Located => g !== undefined,
      ),
      needs,
    });
  }
  return workloads;
}
