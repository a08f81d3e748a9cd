import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Validations } from 'aws-cdk-lib';
import { HARNESS_PORT, VAULT_ADMIN_PORT } from '@lap/sandbox-protocol';
import { Construct } from 'constructs';

/** Ports the rules below open; the sandbox ones come from the sandbox protocol contract. */
export const PORTS = {
  platformHttp: 3000,
  harness: HARNESS_PORT,
  vaultAdmin: VAULT_ADMIN_PORT,
  postgres: 5432,
} as const;

export interface SecurityPerimeterProps {
  vpc: ec2.IVpc;
  /** CIDRs allowed to reach the load balancer. */
  allowedCidrs: string[];
  /** Whether the load balancer listens on 443 (HTTPS) or 80 (HTTP only). */
  https: boolean;
}

/**
 * Every security group of the deployment and every rule between them, in one place (and one
 * stack, so no rule creates a cross-stack cycle):
 *
 *   clients --443/80--> alb --3000--> platform --4096,14323--> sandbox
 *   sandbox --3000 (callbacks)--> platform;  sandbox --443/80, DNS--> internet via NAT
 *   platform, functions --5432--> database   (nothing else reaches the database)
 */
export class SecurityPerimeter extends Construct {
  readonly loadBalancer: ec2.SecurityGroup;
  readonly platform: ec2.SecurityGroup;
  readonly functions: ec2.SecurityGroup;
  readonly sandbox: ec2.SecurityGroup;
  readonly database: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: SecurityPerimeterProps) {
    super(scope, id);
    const { vpc } = props;
    this.loadBalancer = new ec2.SecurityGroup(this, 'LoadBalancer', {
      vpc,
      description: 'LAP API load balancer',
      allowAllOutbound: false,
    });
    this.platform = new ec2.SecurityGroup(this, 'Platform', {
      vpc,
      description: 'LAP web and worker services',
      allowAllOutbound: true,
    });
    this.functions = new ec2.SecurityGroup(this, 'Functions', {
      vpc,
      description: 'LAP Lambda functions (warm pool, reaper, task events, migrations)',
      allowAllOutbound: true,
    });
    this.sandbox = new ec2.SecurityGroup(this, 'Sandbox', {
      vpc,
      description: 'LAP sandbox tasks: reachable only from the platform',
      allowAllOutbound: false,
    });
    this.database = new ec2.SecurityGroup(this, 'Database', {
      vpc,
      description: 'LAP database: reachable only from the platform and its functions',
      allowAllOutbound: false,
    });

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
    this.loadBalancer.addEgressRule(this.platform, ec2.Port.tcp(PORTS.platformHttp), 'to the web service');
    this.platform.addIngressRule(
      this.loadBalancer,
      ec2.Port.tcp(PORTS.platformHttp),
      'from the load balancer',
    );

    this.sandbox.addIngressRule(this.platform, ec2.Port.tcp(PORTS.harness), 'harness API from the platform');
    this.sandbox.addIngressRule(
      this.platform,
      ec2.Port.tcp(PORTS.vaultAdmin),
      'vault admin from the platform',
    );
    this.platform.addIngressRule(
      this.sandbox,
      ec2.Port.tcp(PORTS.platformHttp),
      'sandbox callbacks (spec, phases)',
    );
    this.sandbox.addEgressRule(this.platform, ec2.Port.tcp(PORTS.platformHttp), 'callbacks to the platform');
    this.sandbox.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS via the vault to the internet');
    this.sandbox.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP via the vault to the internet');
    this.sandbox.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.udp(53), 'DNS (VPC resolver)');
    this.sandbox.addEgressRule(
      ec2.Peer.ipv4(vpc.vpcCidrBlock),
      ec2.Port.tcp(53),
      'DNS over TCP (VPC resolver)',
    );

    this.database.addIngressRule(this.platform, ec2.Port.tcp(PORTS.postgres), 'from the platform services');
    this.database.addIngressRule(this.functions, ec2.Port.tcp(PORTS.postgres), 'from the platform functions');
  }
}
