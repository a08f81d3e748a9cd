/**
 * Harness entry point (container CMD, and `node --import tsx` in local mode).
 * Environment: harnessContainerEnvSchema in @lap/sandbox-protocol (containers.ts).
 * The server listens first (GET /health answers `starting`), then the boot: wait for the
 * vault's stub env file and fetch the boot spec (together) -> clone -> install -> write
 * files -> start the adapter -> /health `ok` -> report harness_listening.
 * Any boot failure is reported as phase `failed` with the reason, then the process exits 1.
 * The agent's processes die with the harness, however it ends (process-group.ts).
 */
import { PHASE_REPORT_LIMITS } from '@lap/sandbox-protocol';
import pino from 'pino';
import { createAdapter, preloadAdapter } from './adapters';
import { bootSandbox, BootTimer } from './boot';
import { HarnessConfigError, loadHarnessConfig, type HarnessConfig } from './config';
import { PlatformClient } from './platform-client';
import { createHarnessServer } from './server';

async function main(): Promise<void> {
  const timer = new BootTimer();
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'harness_stopping', signal });
    void Promise.allSettled(cleanups.map((cleanup) => cleanup())).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  preloadAdapter(config.HARNESS_ID);
  try {
    const { spec, agentEnv } = await bootSandbox(config, platform, logger, timer);
    const adapter = createAdapter({
      harnessId: config.HARNESS_ID,
      spec,
      agentEnv,
      workspace: config.WORKSPACE_DIR,
      logger,
      ttyCommand: config.HARNESS_TTY_COMMAND,
      restarts: config.HARNESS_AGENT_RESTARTS,
      parkAfterMs: config.HARNESS_AGENT_PARK_MS,
    });
    cleanups.push(() => adapter.stop());
    const server = createHarnessServer({
      harnessId: config.HARNESS_ID,
      token: config.HARNESS_TOKEN,
      adapter,
      logger,
    });
    cleanups.push(() => server.close());
    await adapter.start((event) => server.events.publish(event));
    timer.mark('agent_started');
    if (stopping) return;
    const port = await server.listen(config.PORT, config.HARNESS_BIND_HOST);
    server.setReady();
    timer.mark('listening');
    logger.info({ event: 'harness_listening', port, boot_ms: timer.marks() });
    await platform.reportPhase({ phase: 'harness_listening', detail: `port ${port}` });
  } catch (error) {
    const reason = (error as Error).message;
    logger.error({ event: 'boot_failed', reason });
    await platform
      // The platform takes a bounded reason (a failed clone's output can be long): its start is kept.
      .reportPhase({ phase: 'failed', failure_reason: reason.slice(0, PHASE_REPORT_LIMITS.failure_reason) })
      .catch((reportError: Error) =>
        logger.error({ event: 'phase_report_failed', message: reportError.message }),
      );
    process.exit(1);
  }
}

void main();
