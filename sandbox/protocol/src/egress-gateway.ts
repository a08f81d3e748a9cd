/**
 * Egress gateway (AWS `sandbox.egress: "enforced"`): sandboxes have no route out; the vault
 * reaches upstreams only through this service: TLS to EGRESS_GATEWAY_PORT (certificate for
 * EGRESS_GATEWAY_SERVER_NAME, signed by the deployment CA), then `CONNECT <ip>:<port>` with
 * `Proxy-Authorization: Bearer <sandbox_id>.<hex>`, hex = HMAC-SHA256(EGRESS_TOKEN_KEY,
 * "egress:" + sandbox_id + ":" + the connection's source IP).
 *
 * The gateway is a Go program (sandbox/egress-gateway/main.go reads the variables below); this
 * schema is its environment for the TypeScript side (the CDK construct writes to it) and a test
 * holds it to the Go program's variables and defaults (test/infra/env-contracts.test.ts).
 */
import { z } from 'zod';
import { envList, type PlainEnvironment } from './env';

export const EGRESS_GATEWAY_PORT = 8443;
export const EGRESS_GATEWAY_HEALTH_PORT = 8080;
export const EGRESS_GATEWAY_SERVER_NAME = 'lap-egress-gateway';

const pem = (kind: 'CERTIFICATE' | 'PRIVATE KEY', what: string) =>
  z.string().refine((value) => value.includes('-----BEGIN') && value.includes(kind), `must be ${what} (PEM)`);

/** The HMAC key of the egress tokens: the worker mints them with it, the gateway checks them. */
export const egressTokenKeyEnv = z
  .string()
  .min(16, 'must be at least 16 characters (the egress gateway shares it), e.g. `openssl rand -hex 32`');

const portList = z.string().regex(/^\d{1,5}(,\d{1,5})*$/, 'must be a comma list of ports, e.g. 443,80');

export const egressGatewayEnvSchema = z.object({
  EGRESS_GATEWAY_TLS_CERT: pem('CERTIFICATE', `the certificate for ${EGRESS_GATEWAY_SERVER_NAME}`),
  EGRESS_GATEWAY_TLS_KEY: pem('PRIVATE KEY', 'its private key'),
  EGRESS_TOKEN_KEY: egressTokenKeyEnv,
  /** Destination ports forwarded to. */
  EGRESS_GATEWAY_ALLOWED_PORTS: portList.default('443,80'),
  /** More destinations to refuse: IPs / CIDR blocks (the deployment's VPC). */
  EGRESS_GATEWAY_DENY_CIDRS: envList().optional(),
  /** Internal ranges forwarded to anyway (never metadata or link-local). */
  EGRESS_GATEWAY_ALLOW_CIDRS: envList().optional(),
  EGRESS_GATEWAY_LISTEN: z.string().default(`:${EGRESS_GATEWAY_PORT}`),
  EGRESS_GATEWAY_HEALTH_LISTEN: z.string().default(`:${EGRESS_GATEWAY_HEALTH_PORT}`),
});
/** Delivered as ECS secrets, never as plain environment. */
export const EGRESS_GATEWAY_SECRET_ENV = [
  'EGRESS_GATEWAY_TLS_CERT',
  'EGRESS_GATEWAY_TLS_KEY',
  'EGRESS_TOKEN_KEY',
] as const;
export type EgressGatewaySecretName = (typeof EGRESS_GATEWAY_SECRET_ENV)[number];
export type EgressGatewayEnvironment = PlainEnvironment<
  typeof egressGatewayEnvSchema,
  EgressGatewaySecretName
>;
