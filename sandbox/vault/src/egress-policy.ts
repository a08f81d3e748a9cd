/**
 * The agent's egress policy, decided on the name the agent asked for AND on every address it
 * resolved to, and answering which one address the relay dials (so what is dialled is exactly
 * what was approved; nothing resolves the name a second time):
 *
 *   1. always allowed (the gateway, the platform, the hosts of deployment-wide credentials):
 *      reachable whatever the lists say, or the sandbox could not work at all;
 *   2. internal (INTERNAL_DESTINATIONS: link-local, the cloud metadata addresses, and
 *      EGRESS_INTERNAL_CIDRS, the VPC's own ranges): blocked if the name or ANY address is in one;
 *   3. deny_out: blocked if the name or ANY address matches;
 *   4. allow_out, when not empty: allowed only if the name matches (dial the first address) or
 *      an address matches an IP/CIDR rule (dial that address).
 *
 * Addresses come from the system resolver, which reads every IPv4 spelling (decimal
 * `2130706433`, octal `0177.0.0.1`, hex `0x7f000001`, short `127.1`) as the address it means;
 * IPv4-mapped IPv6 (`::ffff:169.254.169.254`) matches IPv4 rules.
 */
import { VAULT_EGRESS_POLICY_HEADER } from '@lap/sandbox-protocol';
import { isIP } from 'node:net';
import {
  findMatchingRule,
  normalizeHost,
  parseDestinationRules,
  ruleMatchesAddress,
  ruleMatchesName,
  type Destination,
  type DestinationRule,
} from './destination-rules';

export type EgressPolicyName = 'allow_out' | 'deny_out' | 'internal';

export type EgressDecision =
  | { allowed: true; reason: 'always_allowed' | 'allow_out' | 'no_policy'; address: string }
  | { allowed: false; policy: EgressPolicyName; message: string };

export { VAULT_EGRESS_POLICY_HEADER };

/**
 * Never reachable through the vault (unless always allowed): link-local (where the cloud
 * metadata services live: EC2 IMDS 169.254.169.254, the ECS task metadata and credentials
 * endpoint 169.254.170.2, and EC2's IPv6 IMDS fd00:ec2::254), the unspecified addresses
 * (which reach the local host), and link-local behind the well-known NAT64 prefix.
 */
export const INTERNAL_DESTINATIONS: readonly string[] = [
  '169.254.0.0/16',
  'fe80::/10',
  'fd00:ec2::254',
  '0.0.0.0/8',
  '::/128',
  '64:ff9b::a9fe:0/112',
];

const BUILT_IN_INTERNAL = parseDestinationRules(INTERNAL_DESTINATIONS);

/** The address to dial if a rule admits the destination: any address for a name rule, else the matching one. */
function admittedAddress(
  rules: readonly DestinationRule[],
  host: string,
  addresses: string[],
): string | undefined {
  if (rules.some((rule) => ruleMatchesName(rule, host))) return addresses[0] ?? host;
  return addresses.find((address) => rules.some((rule) => ruleMatchesAddress(rule, address)));
}

export class EgressPolicy {
  private readonly internal: readonly DestinationRule[];

  constructor(
    readonly allowOut: readonly DestinationRule[],
    readonly denyOut: readonly DestinationRule[],
    readonly alwaysAllow: readonly DestinationRule[],
    /** The deployment's own ranges (EGRESS_INTERNAL_CIDRS), added to INTERNAL_DESTINATIONS. */
    internalRanges: readonly DestinationRule[] = [],
  ) {
    this.internal = [...BUILT_IN_INTERNAL, ...internalRanges];
  }

  /** `destination.addresses`: every address the name resolved to (the host itself for an IP literal). */
  decide(destination: Destination): EgressDecision {
    const host = normalizeHost(destination.host);
    // An IP literal is its own address; a name without addresses is dialled by name (never by the relay).
    const addresses =
      isIP(host) && !destination.addresses.includes(host)
        ? [host, ...destination.addresses]
        : destination.addresses;
    const always = admittedAddress(this.alwaysAllow, host, addresses);
    if (always !== undefined) return { allowed: true, reason: 'always_allowed', address: always };
    const internal = findMatchingRule(this.internal, destination);
    if (internal) {
      return {
        allowed: false,
        policy: 'internal',
        message: `egress to ${host} is blocked: it is (or resolves to) an internal address (${internal.text})`,
      };
    }
    const denied = findMatchingRule(this.denyOut, destination);
    if (denied) {
      return {
        allowed: false,
        policy: 'deny_out',
        message: `egress to ${host} is blocked by the agent's deny_out rule "${denied.text}"`,
      };
    }
    if (this.allowOut.length === 0)
      return { allowed: true, reason: 'no_policy', address: addresses[0] ?? host };
    const allowed = admittedAddress(this.allowOut, host, addresses);
    if (allowed !== undefined) return { allowed: true, reason: 'allow_out', address: allowed };
    return {
      allowed: false,
      policy: 'allow_out',
      message: `egress to ${host} is blocked: it is not in the agent's allow_out list`,
    };
  }
}
