import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';

export interface DatabaseMigrationsProps {
  /** The migrate function (bundled with platform/src/db/migrations). */
  handler: lambda.Function;
  /** Constructs that must not roll before the schema is migrated (the services). */
  executeBefore: Construct[];
}

/**
 * Runs the migrate function during the deploy, after the database and before the services roll:
 * a failing migration fails the deploy and CloudFormation rolls back with the old services still
 * running. It runs again whenever the function's code (hence a migration file) changes.
 */
export class DatabaseMigrations extends Construct {
  constructor(scope: Construct, id: string, props: DatabaseMigrationsProps) {
    super(scope, id);
    new triggers.Trigger(this, 'Trigger', {
      handler: props.handler,
      executeBefore: props.executeBefore,
      executeOnHandlerChange: true,
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      timeout: Duration.minutes(10),
    });
  }
}
