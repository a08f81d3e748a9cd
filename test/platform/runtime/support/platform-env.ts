import { ConfigError, loadConfig } from '../../../../platform/src/config';

/** A complete, valid platform environment (local secret store); tests spread and override it. */
export const VALID_PLATFORM_ENV = {
  DATABASE_URL: 'postgres://lap:pw@db:5432/lap',
  MASTER_KEY: 'master-key-1',
  HARNESS_TOKEN_SIGNING_KEY: 'a'.repeat(32),
  ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  LITELLM_API_BASE: 'https://gateway.example.com',
  // The trailing slash is on purpose: config normalises it away.
  CALLBACK_URL: 'http://10.0.0.5:3000/',
  VAULT_CA_CERT: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
};

/** The problems listed by the ConfigError that this environment must raise. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
