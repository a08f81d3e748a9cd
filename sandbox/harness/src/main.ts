/**
 * Harness entry point (container CMD, and `node --import tsx` in local mode).
 * Environment: HarnessContainerEnv in @lap/sandbox-protocol (+ WORKSPACE_DIR, HOME).
 * Boot: wait for the vault's stub env file -> fetch the boot spec -> clone -> install ->
 * write files -> start the adapter -> serve on PORT -> report harness_listening.
 * Any failure is reported as phase `failed` with the reason, then the process exits 1.
 */
import pino from 'pino';
import { createAdapter } from './adapters';
import { bootSandbox } from './boot';
import { HarnessConfigError, loadHarnessConfig, type HarnessConfig } from './config';
import { PlatformClient } from './platform-client';
import { createHarnessServer } from './server';

async function main(): Promise<void> {
  let config: HarnessConfig;
  try {
    config = loadHarnessConfig(process.env);
  } catch (error) {
    if (!(error instanceof HarnessConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const logger = pino({
    name: 'lap-harness',
    level: config.LOG_LEVEL,
    base: { component: 'harness', harness_id: config.HARNESS_ID, sandbox_id: config.SANDBOX_ID },
  });
  const platform = new PlatformClient(config.CALLBACK_URL, config.SANDBOX_ID, config.CALLBACK_TOKEN);
  // Registered before the boot: a stop during the boot must still take the agent's processes down.
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = (signal: string) => {
    logger.info({ event: 'harness_stopping', signal });
    void Promise.allSettled(cleanups.map((cleanup) => cleanup())).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  try {
    const { spec, agentEnv } = await bootSandbox(config, platform, logger);
    const adapter = createAdapter({
      harnessId: config.HARNESS_ID,
      spec,
      agentEnv,
      workspace: config.WORKSPACE_DIR,
      logger,
      ttyCommand: config.HARNESS_TTY_COMMAND,
    });
    const server = createHarnessServer({
      harnessId: config.HARNESS_ID,
      token: config.HARNESS_TOKEN,
      adapter,
      logger,
    });
    await adapter.start();
    server.setReady();
    const port = await server.listen(config.PORT, config.HARNESS_BIND_HOST);
    logger.info({ event: 'harness_listening', port });
    await platform.reportPhase({ phase: 'harness_listening', detail: `port ${port}` });
  } catch (error) {
    const reason = (error as Error).message;
    logger.error({ event: 'boot_failed', reason });
    await platform
      .reportPhase({ phase: 'failed', failure_reason: reason })
      .catch((reportError: Error) =>
        logger.error({ event: 'phase_report_failed', message: reportError.message }),
      );
    process.exit(1);
  }
}

void main();
