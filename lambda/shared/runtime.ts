/**
 * What every handler shares, created once per Lambda instance: settings, the
 * structured logger, the database and (for handlers that stop tasks) the ECS launcher.
 */
import pino from 'pino';
import { EcsSandboxLauncher } from '../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../platform/src/sandbox/ecs/settings';
import type { Logger } from '../../platform/src/logger';
import { LambdaDatabase } from './database';
import { databaseEnvSchema, parseLambdaEnv } from './settings';

export interface LambdaRuntime {
  env: ReturnType<typeof parseLambdaEnv<typeof databaseEnvSchema>>;
  log: Logger;
  database: LambdaDatabase;
  launcher(): EcsSandboxLauncher;
}

export function createLambdaRuntime(name: string, env: NodeJS.ProcessEnv = process.env): LambdaRuntime {
  const settings = parseLambdaEnv(databaseEnvSchema, env);
  const log = pino({ level: settings.LOG_LEVEL, base: { service: `lap-${name}` } }) as unknown as Logger;
  let launcher: EcsSandboxLauncher | null = null;
  return {
    env: settings,
    log,
    database: new LambdaDatabase(env),
    launcher() {
      launcher ??= new EcsSandboxLauncher({
        settings: parseEcsSandboxSettings(env),
        log: (msg, fields) => log.info(fields, msg),
      });
      return launcher;
    },
  };
}
