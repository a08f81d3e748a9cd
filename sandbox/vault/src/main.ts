/**
 * Vault sidecar entry point (container CMD, and `node --import tsx` in local mode).
 * Environment: vaultContainerEnvSchema in @lap/sandbox-protocol (containers.ts), read by config.ts.
 */
import pino from 'pino';
import { loadVaultConfig, VaultConfigError } from './config';
import { startVault } from './vault';

async function main(): Promise<void> {
  let config;
  try {
    config = loadVaultConfig(process.env);
  } catch (error) {
    if (!(error instanceof VaultConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const logger = pino({ name: 'lap-vault', level: config.logLevel, base: { component: 'vault' } });
  const vault = await startVault(config, logger);
  let stopping = false;
  // The relay is the proxy: without it the sandbox has no egress. Exit so the task stops.
  void vault.relayExited.then((code) => {
    if (stopping) return;
    logger.error({ event: 'vault_relay_exited', code });
    process.exit(1);
  });
  const stop = (signal: string) => {
    stopping = true;
    logger.info({ event: 'vault_stopping', signal });
    void vault.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`vault failed to start: ${(error as Error).message}`);
  process.exit(1);
});
