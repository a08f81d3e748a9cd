/**
 * The platform service entry (the Docker image), by PLATFORM_ROLE:
 *   web:    the public API on PORT; launches nothing (its launcher is control only), hands
 *           sessions with per-session env vars to a worker (WORKER_INTERNAL_URL);
 *   worker: the job queue, and the internal listener on INTERNAL_PORT (sandbox callbacks,
 *           web -> worker calls); GET /healthz on PORT for the container health check;
 *   all:    both.
 * SIGTERM drains: stop taking requests and sessions, finish or hand back running jobs,
 * then close the internal listener (sandboxes still coming up call back until then) and
 * the database pool.
 */
import http from 'node:http';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { buildApp, buildInternalApp } from './api/app';
import { ConfigError, loadConfig, type PlatformConfig } from './config';
import { createPool } from './db/pool';
import { rdsSecretPassword } from './db/rds-secret';
import type { SandboxLauncher } from './sandbox/launcher';
import { EcsSandboxLauncher } from './sandbox/ecs/ecs-sandbox-launcher';
import { LocalSandboxLauncher } from './sandbox/local/local-launcher';
import { KmsSecretStore } from './secrets/kms';
import { LocalSecretStore } from './secrets/local';
import type { SecretStore } from './secrets/secret-store';
import { createLogger, type Logger } from './logger';
import { createPlatformRuntime } from './worker/runtime';

function secretStoreFor(config: PlatformConfig): SecretStore {
  return config.secretStore.kind === 'local'
    ? new LocalSecretStore(config.secretStore.encryptionKey)
    : new KmsSecretStore(config.secretStore.kmsKeyArn);
}

function launcherFor(config: PlatformConfig, log: Logger): SandboxLauncher {
  if (config.ecs) {
    return new EcsSandboxLauncher({ settings: config.ecs, log: (msg, fields) => log.info(fields, msg) });
  }
  // A single-host deployment without ECS: sandboxes as local processes (needs the CA files on disk).
  const dataDir = process.env.LAP_DATA_DIR ?? '/var/lib/lap';
  return new LocalSandboxLauncher({
    dataDir,
    caCertPath: `${dataDir}/ca/ca.pem`,
    caKeyPath: `${dataDir}/ca/ca-key.pem`,
    litellm: config.litellm,
    git: config.git,
  });
}

/** The worker role has no API; it answers GET /healthz for the container health check. */
function startHealthServer(port: number): http.Server {
  return http
    .createServer((req, res) => {
      const ok = req.url === '/healthz';
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
      res.end(ok ? '{"status":"ok"}' : '{"error":"not found"}');
    })
    .listen(port);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const db = createPool({
    url: config.database.url,
    idleTimeoutMs: config.database.idleTimeoutMs,
    ssl: config.database.ssl ? { rejectUnauthorized: true } : undefined,
    // RDS rotates the password: new connections take the current one from the secret (cached 60 s).
    password: config.database.passwordSecretArn
      ? rdsSecretPassword({
          client: new SecretsManagerClient({}),
          secretArn: config.database.passwordSecretArn,
        })
      : undefined,
    onIdleError: (err) => log.warn({ err: { message: err.message } }, 'database connection lost'),
  });
  const secretStore = secretStoreFor(config);
  const launcher = launcherFor(config, log);
  const { runtime } = createPlatformRuntime(config, { db, launcher, secretStore, log });

  let close: () => Promise<void>;
  if (config.role === 'worker') {
    const health = startHealthServer(config.port);
    close = () => new Promise((resolve) => health.close(() => resolve()));
  } else {
    const app = await buildApp({ db, masterKey: config.masterKey, secretStore, log, ...runtime.api });
    await app.listen({ port: config.port, host: '0.0.0.0' });
    close = () => app.close();
  }
  let closeInternal = async () => {};
  if (runtime.internal) {
    const internal = await buildInternalApp({ log, ...runtime.internal });
    await internal.listen({ port: config.internalPort, host: '0.0.0.0' });
    closeInternal = () => internal.close();
  }
  runtime.startWorker();
  log.info(
    {
      role: config.role,
      port: config.port,
      internal_port: runtime.internal ? config.internalPort : null,
      launcher: config.role === 'web' ? 'control only' : config.sandboxLauncher,
    },
    'platform started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    try {
      await close();
      // ECS gives a task 30 s after SIGTERM by default: leave room for the pool to close.
      await runtime.stop(20_000);
      await closeInternal();
      await db.end();
    } finally {
      log.info('stopped');
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: Error) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(JSON.stringify({ level: 'fatal', msg: 'platform failed to start', error: err.message }));
  process.exit(1);
});
