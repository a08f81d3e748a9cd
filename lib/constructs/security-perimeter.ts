import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Validations } from 'aws-cdk-lib';
import {
  EGRESS_GATEWAY_HEALTH_PORT,
  EGRESS_GATEWAY_PORT,
  HARNESS_PORT,
  VAULT_ADMIN_PORT,
} from '@lap/sandbox-protocol';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';

/** Ports the rules below open; the sandbox ones come from the sandbox protocol contract. */
export const PORTS = {
  /** The public API (behind the ALB) and every service's /healthz. */
  platformHttp: 3000,
  /** The worker's internal port: sandbox callbacks and web -> worker calls; never behind the ALB. */
  platformInternal: 3001,
  harness: HARNESS_PORT,
  vaultAdmin: VAULT_ADMIN_PORT,
  postgres: 5432,
  /** The egress gateway's TLS listener (CONNECT with a per-sandbox token). */
  egressGateway: EGRESS_GATEWAY_PORT,
  /** The egress gateway's plain HTTP health endpoint (inside its task only). */
  egressGatewayHealth: EGRESS_GATEWAY_HEALTH_PORT,
  dns: 53,
} as const;

export interface SecurityPerimeterProps {
  vpc: ec2.IVpc;
  /** CIDRs allowed to reach the load balancer. */
  allowedCidrs: string[];
  /** Whether the load balancer listens on 443 (HTTPS) or 80 (HTTP only). */
  https: boolean;
  egress: DeploymentConfig['sandbox']['egress'];
  /** The VPC's primary CIDR as a literal (the resolver's address is derived from it). */
  vpcCidr: string;
  /** The interface endpoints' group (a new VPC); absent for an imported VPC (its endpoints are reached by CIDR). */
  endpointSecurityGroup?: ec2.ISecurityGroup;
  /** The S3 managed prefix list of the region (the sandbox subnets' gateway endpoint), "enforced" only. */
  s3PrefixListId?: string;
}

/**
 * Every security group of the deployment and every rule between them, in one place:
 *
 *   clients --443/80--> alb --3000--> web --4096--> sandbox
 *   web, functions --3001--> worker --4096,14323--> sandbox --3001 (callbacks)--> worker
 *   web, worker, functions --5432--> database   (nothing else reaches the database)
 *   enforced: sandbox --8443--> egress gateway --> internet via NAT;
 *             sandbox --443--> VPC endpoints (ECR, Logs, Secrets Manager, S3); DNS to the resolver
 *   advisory: sandbox --443/80--> internet via NAT; DNS to the VPC
 */
export class SecurityPerimeter extends Construct {
  readonly loadBalancer: ec2.SecurityGroup;
  readonly web: ec2.SecurityGroup;
  readonly worker: ec2.SecurityGroup;
  readonly functions: ec2.SecurityGroup;
  readonly sandbox: ec2.SecurityGroup;
  readonly database: ec2.SecurityGroup;
  readonly egressGateway?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: SecurityPerimeterProps) {
    super(scope, id);
    const { vpc } = props;
    const group = (name: string, description: string, allowAllOutbound: boolean) =>
      new ec2.SecurityGroup(this, name, { vpc, description, allowAllOutbound });
    this.loadBalancer = group('LoadBalancer', 'LAP API load balancer', false);
    this.web = group('Web', 'LAP web service (public API)', true);
    this.worker = group('Worker', 'LAP worker service (sandbox launches, internal port)', true);
    this.functions = group(
      'Functions',
      'LAP Lambda functions (warm pool, reaper, task events, migrations)',
      true,
    );
    this.sandbox = group('Sandbox', 'LAP sandbox tasks: reachable only from the platform', false);
    this.database = group(
      'Database',
      'LAP database: reachable only from the platform and its functions',
      false,
    );

    const listenerPort = props.https ? 443 : 80;
    for (const cidr of props.allowedCidrs) {
      this.loadBalancer.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(listenerPort), 'API clients');
    }
    if (props.allowedCidrs.includes('0.0.0.0/0')) {
      Validations.of(this.loadBalancer).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: `The public API endpoint: 0.0.0.0/0 on port ${listenerPort} only, because edge.allowedCidrs says so; requests are authenticated by the platform (and filtered by WAF when enabled).`,
      });
    }
    /** `from` may open connections to `to` on `port`: its egress rule and `to`'s ingress rule. */
    const connect = (from: ec2.SecurityGroup, to: ec2.SecurityGroup, port: number, why: string) => {
      from.addEgressRule(to, ec2.Port.tcp(port), why);
      to.addIngressRule(from, ec2.Port.tcp(port), why);
    };
    // The load balancer reaches the public API port of the web service, nothing else.
    connect(this.loadBalancer, this.web, PORTS.platformHttp, 'load balancer -> web service');

    this.worker.addIngressRule(this.web, ec2.Port.tcp(PORTS.platformInternal), 'web -> worker private calls');
    this.worker.addIngressRule(
      this.functions,
      ec2.Port.tcp(PORTS.platformInternal),
      'warm-pool function -> worker poke',
    );
    this.sandbox.addIngressRule(this.web, ec2.Port.tcp(PORTS.harness), 'harness API from the web service');
    this.sandbox.addIngressRule(this.worker, ec2.Port.tcp(PORTS.harness), 'harness API from the worker');
    this.sandbox.addIngressRule(this.worker, ec2.Port.tcp(PORTS.vaultAdmin), 'vault admin from the worker');
    connect(this.sandbox, this.worker, PORTS.platformInternal, "sandbox callbacks -> worker's internal port");

    // DNS: names of the namespace (worker, egress gateway) and, in advisory mode, the internet.
    // Only the VPC's resolver (base + 2); it answers any public name, which is what remains of
    // the sandbox's reach besides the rules below (a DNS Firewall can narrow it).
    const resolver = ec2.Peer.ipv4(`${resolverAddress(props.vpcCidr)}/32`);
    this.sandbox.addEgressRule(resolver, ec2.Port.udp(PORTS.dns), 'DNS (VPC resolver)');
    this.sandbox.addEgressRule(resolver, ec2.Port.tcp(PORTS.dns), 'DNS over TCP (VPC resolver)');

    if (props.egress === 'enforced') {
      this.egressGateway = group(
        'EgressGateway',
        'LAP egress gateway: the only way out of the sandboxes',
        true,
      );
      connect(
        this.sandbox,
        this.egressGateway,
        PORTS.egressGateway,
        'sandboxes -> egress gateway (CONNECT with a vault token)',
      );
      // What Fargate itself needs to start a sandbox there: image pulls, logs, secrets.
      if (props.endpointSecurityGroup) {
        this.sandbox.addEgressRule(
          props.endpointSecurityGroup,
          ec2.Port.tcp(443),
          'VPC endpoints (ECR, Logs, Secrets Manager)',
        );
      } else {
        this.sandbox.addEgressRule(
          ec2.Peer.ipv4(props.vpcCidr),
          ec2.Port.tcp(443),
          "the imported VPC's interface endpoints",
        );
      }
      if (props.s3PrefixListId) {
        this.sandbox.addEgressRule(
          ec2.Peer.prefixList(props.s3PrefixListId),
          ec2.Port.tcp(443),
          'S3 gateway endpoint (ECR image layers)',
        );
      }
    } else {
      this.sandbox.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        'HTTPS via the vault to the internet',
      );
      this.sandbox.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP via the vault to the internet');
    }

    for (const [client, what] of [
      [this.web, 'web service'],
      [this.worker, 'worker service'],
      [this.functions, 'platform functions'],
    ] as const) {
      this.database.addIngressRule(client, ec2.Port.tcp(PORTS.postgres), `from the ${what}`);
    }
  }
}

/** The Amazon-provided DNS resolver of a VPC: the network address of its primary CIDR plus two. */
export function resolverAddress(cidr: string): string {
  const [address, prefix] = cidr.split('/');
  const value = address!.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  const resolver = Math.floor(value / size) * size + 2;
  return [24, 16, 8, 0].map((shift) => Math.floor(resolver / 2 ** shift) % 256).join('.');
}
