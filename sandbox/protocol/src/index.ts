/**
 * The contracts between the control plane and what runs inside a sandbox:
 *   - the harness HTTP protocol (platform -> harness, port HARNESS_PORT): harness.ts,
 *   - the platform's internal sandbox routes (harness -> platform: boot spec and phases): callbacks.ts,
 *   - the vault admin protocol (platform -> vault, TLS on VAULT_ADMIN_PORT): vault.ts,
 *   - the egress gateway (vault -> gateway, AWS enforced egress): egress-gateway.ts,
 *   - the environment each container of a sandbox receives: containers.ts (read with env.ts).
 * Every message and environment is a zod schema, and its TypeScript type derives from it:
 * both sides import this package and validate with the same schema.
 * The prose version is docs/sandbox-protocol.md.
 */
export * from './callbacks';
export * from './containers';
export * from './egress-gateway';
export * from './env';
export * from './harness';
export * from './vault';
