import net from 'node:net';
import { z } from 'zod';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isDomain(value: string): boolean {
  if (value.length > 253) return false;
  return value.split('.').every((label) => LABEL.test(label));
}

function isCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const version = net.isIP(address);
  return version !== 0 && Number(bits) <= (version === 4 ? 32 : 128);
}

/** One vault egress rule: `example.com`, `*.example.com`, an IPv4/IPv6 address or a CIDR block. */
export function isEgressRule(value: string): boolean {
  if (net.isIP(value) !== 0) return true;
  if (value.includes('/')) return isCidr(value);
  if (value.startsWith('*.')) return isDomain(value.slice(2));
  return isDomain(value);
}

export const MAX_EGRESS_RULES = 200;

export const egressRulesSchema = z
  .array(
    z
      .string({ error: 'must be a string' })
      .refine(isEgressRule, 'must be a domain, *.wildcard domain, IP address or CIDR block'),
  )
  .max(MAX_EGRESS_RULES, `at most ${MAX_EGRESS_RULES} entries`);
