/**
 * The VPC of the template and the internet, as podman networks on this machine:
 *
 *   - `podman` (the default bridge): the subnets with a route out (public; private, through the
 *     NAT). The services run here, and the host's stand-ins for the account and the database
 *     (moto, PostgreSQL, the ECS double) listen on its bridge address.
 *   - `lap-rh-sandboxes`, an internal network: the subnets without any route (the sandbox
 *     subnets of `sandbox.egress` "enforced"). A container on it reaches the addresses on it and
 *     nothing else: no route out, no address of the host, no DNS server. The egress gateway and
 *     the web and worker containers are attached to it too (in AWS they are reached through the
 *     VPC's local route; the security groups that narrow that to ports 8443 and 3001 are checked
 *     by the template tests, not here).
 *   - `lap-rh-internet`: the internet. 198.51.100.0/24 (TEST-NET-2) is a documentation range
 *     routed nowhere real, and a public address to the egress gateway's rules (unlike the private
 *     ranges it refuses); the host answers at .1 for the public names (the LLM gateway double).
 *     The egress gateway is attached to it: the gateway's way out, as the NAT is on AWS.
 *
 * Which network a task joins follows from the subnets RunTask names (the template's routes).
 */
import type { CloudAssembly, PhysicalResolver } from './cloud-assembly';
import type { Podman } from './podman';

export const NETWORKS = {
  routed: 'podman',
  isolated: 'lap-rh-sandboxes',
  internet: 'lap-rh-internet',
} as const;

const SUBNETS = { isolated: '10.89.240.0/24', internet: '198.51.100.0/24' };
/** The host on the internet network: where the public names of the rehearsal resolve. */
export const INTERNET_HOST = '198.51.100.1';

export async function createNetworks(podman: Podman): Promise<void> {
  await podman.createNetwork(NETWORKS.isolated, SUBNETS.isolated, true);
  await podman.createNetwork(NETWORKS.internet, SUBNETS.internet, false);
}

/**
 * Subnet id -> podman network: a subnet whose route table has any route (to the NAT or the
 * internet gateway) is routed, one without is isolated.
 */
export function subnetNetworks(
  assembly: CloudAssembly,
  stack: string,
  physical: PhysicalResolver,
): Map<string, string> {
  const routedTables = new Set(
    assembly
      .resourcesOfType(stack, 'AWS::EC2::Route')
      .map(({ properties }) => assembly.resolve(stack, properties.RouteTableId, physical)),
  );
  const networks = new Map<string, string>();
  for (const { properties } of assembly.resourcesOfType(stack, 'AWS::EC2::SubnetRouteTableAssociation')) {
    const subnet = assembly.resolve(stack, properties.SubnetId, physical);
    const table = assembly.resolve(stack, properties.RouteTableId, physical);
    networks.set(subnet, routedTables.has(table) ? NETWORKS.routed : NETWORKS.isolated);
  }
  return networks;
}
