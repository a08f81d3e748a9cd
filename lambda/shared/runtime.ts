/**
 * What every handler shares, created once per Lambda instance: its settings (parsed with the
 * function's own schema, lambda/shared/settings.ts), the structured logger, the database and
 * (for handlers that list or stop tasks) the ECS launcher.
 */
import type pg from 'pg';
import pino from 'pino';
import type { z } from 'zod';
import { EcsSandboxLauncher } from '../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../platform/src/sandbox/ecs/settings';
import type { Logger } from '../../platform/src/logger';
import { LambdaDatabase } from './database';
import { parseLambdaEnv, type functionEnvSchema } from './settings';

export interface LambdaRuntime<Env> {
  env: Env;
  log: Logger;
  database: LambdaDatabase;
  launcher(): EcsSandboxLauncher;
  /**
   * Runs `fn` with the database pool, then closes the connections whatever happened: a frozen
   * Lambda keeps its connections open, and an open connection keeps Aurora awake.
   */
  withDatabase<T>(fn: (db: pg.Pool) => Promise<T>): Promise<T>;
}

/** `schema` is the function's own (every one extends functionEnvSchema). */
export function createLambdaRuntime<S extends z.ZodObject<(typeof functionEnvSchema)['shape']>>(
  name: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): LambdaRuntime<z.output<S>> {
  const settings = parseLambdaEnv(schema, env);
  const log = pino({ level: settings.LOG_LEVEL, base: { service: `lap-${name}` } }) as unknown as Logger;
  let launcher: EcsSandboxLauncher | null = null;
  const database = new LambdaDatabase(env);
  return {
    env: settings,
    log,
    database,
    launcher() {
      launcher ??= new EcsSandboxLauncher({
        settings: parseEcsSandboxSettings(env),
        log: (msg, fields) => log.info(fields, msg),
      });
      return launcher;
    },
    async withDatabase(fn) {
      try {
        return await fn(await database.get());
      } finally {
        await database.reset();
      }
    },
  };
}
