/**
 * migrate Lambda: applies the schema migrations at deploy time, before the services
 * roll, so a failing migration fails the deploy. Works as a CDK Trigger (any event)
 * and as a custom resource behind the Provider framework (Create/Update migrate,
 * Delete does nothing: the schema outlives a stack update or rollback).
 *
 * The SQL files are bundled next to this handler: the NodejsFunction copies
 * platform/src/db/migrations into `<bundle>/migrations` (commandHooks.afterBundling).
 * MIGRATIONS_DIR overrides the folder.
 */
import path from 'node:path';
import type { z } from 'zod';
import { migrate } from '../../platform/src/db/migrate';
import { createLambdaRuntime, type LambdaRuntime } from '../shared/runtime';
import { migrateFunctionEnvSchema } from '../shared/settings';

let runtime: LambdaRuntime<z.output<typeof migrateFunctionEnvSchema>> | null = null;

interface MigrateResponse {
  PhysicalResourceId: string;
  Data: { applied: string; alreadyApplied: number };
}

export async function handler(
  event: { RequestType?: string; PhysicalResourceId?: string } = {},
): Promise<MigrateResponse> {
  runtime ??= createLambdaRuntime('migrate', migrateFunctionEnvSchema);
  const { log, env } = runtime;
  const physicalId = event.PhysicalResourceId ?? 'lap-database-schema';
  if (event.RequestType === 'Delete') {
    log.info({ request_type: 'Delete' }, 'schema kept on delete');
    return { PhysicalResourceId: physicalId, Data: { applied: '', alreadyApplied: 0 } };
  }
  const directory = env.MIGRATIONS_DIR ?? path.join(__dirname, 'migrations');
  const result = await migrate({
    databaseUrl: await runtime.database.url(),
    directory,
    log: (message, fields) => log.info(fields ?? {}, message),
  });
  log.info({ applied: result.applied, already_applied: result.alreadyApplied }, 'migrations done');
  return {
    PhysicalResourceId: physicalId,
    Data: { applied: result.applied.join(','), alreadyApplied: result.alreadyApplied },
  };
}
