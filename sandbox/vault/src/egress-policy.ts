/**
 * The agent's egress policy: `deny_out` blocks, a non-empty `allow_out` admits only its
 * destinations. The always-allowed destinations (the gateway, the platform, the hosts
 * of deployment-wide credentials) are reachable whatever the lists say, or the sandbox
 * could not work at all.
 */
import { VAULT_EGRESS_POLICY_HEADER } from '@lap/sandbox-protocol';
import { findMatchingRule, type Destination, type DestinationRule } from './destination-rules';

export type EgressDecision =
  | { allowed: true; reason: 'always_allowed' | 'allow_out' | 'no_policy' }
  | { allowed: false; policy: 'allow_out' | 'deny_out'; message: string };

export { VAULT_EGRESS_POLICY_HEADER };

export class EgressPolicy {
  constructor(
    readonly allowOut: readonly DestinationRule[],
    readonly denyOut: readonly DestinationRule[],
    readonly alwaysAllow: readonly DestinationRule[],
  ) {}

  decide(destination: Destination): EgressDecision {
    if (findMatchingRule(this.alwaysAllow, destination)) return { allowed: true, reason: 'always_allowed' };
    const denied = findMatchingRule(this.denyOut, destination);
    if (denied) {
      return {
        allowed: false,
        policy: 'deny_out',
        message: `egress to ${destination.host} is blocked by the agent's deny_out rule "${denied.text}"`,
      };
    }
    if (this.allowOut.length === 0) return { allowed: true, reason: 'no_policy' };
    if (findMatchingRule(this.allowOut, destination)) return { allowed: true, reason: 'allow_out' };
    return {
      allowed: false,
      policy: 'allow_out',
      message: `egress to ${destination.host} is blocked: it is not in the agent's allow_out list`,
    };
  }
}
