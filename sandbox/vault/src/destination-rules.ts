/**
 * Destination rules, shared by the egress policy (allow_out / deny_out) and by credential
 * bindings (the hosts a real value may be sent to). A rule is one of:
 *   - `api.example.com`   that host exactly (case-insensitive),
 *   - `*.example.com`     any subdomain of example.com (not example.com itself),
 *   - `203.0.113.7`, `2001:db8::1`  that IP address,
 *   - `10.0.0.0/8`, `2001:db8::/32` any address in that CIDR block.
 * A URL (`https://gateway.example.com:4000/v1`) is accepted and reduced to its host.
 * Ports are not part of a rule: a rule matches the host on every port.
 */
import { BlockList, isIP } from 'node:net';

export type DestinationRule =
  | { kind: 'host'; host: string; text: string }
  | { kind: 'subdomains'; suffix: string; text: string }
  | { kind: 'addresses'; list: BlockList; text: string };

/** Where a request goes: the host it names and the addresses it resolved to. */
export interface Destination {
  host: string;
  addresses: string[];
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

function ipFamily(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** Strips brackets of an IPv6 literal and a trailing dot, lowercases. */
export function normalizeHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

export function parseDestinationRule(input: string): DestinationRule {
  const text = input.trim();
  let value = text.toLowerCase();
  if (value.includes('://')) {
    try {
      value = new URL(value).hostname;
    } catch {
      throw new Error(`"${text}" is not a valid URL`);
    }
  }
  value = normalizeHost(value);
  if (value.includes('/')) {
    const [address, bits] = value.split('/', 2) as [string, string];
    const prefix = Number(bits);
    const family = isIP(address);
    if (!family || !/^\d+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`"${text}" is not a valid CIDR block (e.g. 10.0.0.0/8)`);
    }
    const list = new BlockList();
    list.addSubnet(address, prefix, ipFamily(address));
    return { kind: 'addresses', list, text };
  }
  if (isIP(value)) {
    const list = new BlockList();
    list.addAddress(value, ipFamily(value));
    return { kind: 'addresses', list, text };
  }
  if (value.startsWith('*.')) {
    const suffix = value.slice(2);
    if (!HOSTNAME.test(suffix))
      throw new Error(`"${text}" is not a valid wildcard domain (e.g. *.example.com)`);
    return { kind: 'subdomains', suffix, text };
  }
  if (!HOSTNAME.test(value)) {
    throw new Error(`"${text}" is not a domain, *.domain, IP address or CIDR block`);
  }
  return { kind: 'host', host: value, text };
}

/** Parses every rule; throws one error naming every bad entry. */
export function parseDestinationRules(inputs: readonly string[]): DestinationRule[] {
  const rules: DestinationRule[] = [];
  const problems: string[] = [];
  for (const input of inputs) {
    if (!input.trim()) continue;
    try {
      rules.push(parseDestinationRule(input));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return rules;
}

/** Does an IP or CIDR rule cover this address? (BlockList matches IPv4-mapped IPv6 as IPv4.) */
export function ruleMatchesAddress(rule: DestinationRule, address: string): boolean {
  return rule.kind === 'addresses' && isIP(address) !== 0 && rule.list.check(address, ipFamily(address));
}

/** Does a domain or wildcard rule cover this host name? */
export function ruleMatchesName(rule: DestinationRule, host: string): boolean {
  const name = normalizeHost(host);
  if (rule.kind === 'host') return name === rule.host;
  if (rule.kind === 'subdomains') return name.endsWith(`.${rule.suffix}`);
  return false;
}

/** The name matches, or any of its addresses (the host itself when it is an IP literal). */
export function ruleMatches(rule: DestinationRule, destination: Destination): boolean {
  if (ruleMatchesName(rule, destination.host)) return true;
  const host = normalizeHost(destination.host);
  const candidates = isIP(host) ? [host, ...destination.addresses] : destination.addresses;
  return candidates.some((address) => ruleMatchesAddress(rule, address));
}

/** The first rule matching the destination, if any. */
export function findMatchingRule(
  rules: readonly DestinationRule[],
  destination: Destination,
): DestinationRule | undefined {
  return rules.find((rule) => ruleMatches(rule, destination));
}
