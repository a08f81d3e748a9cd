import { Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { stackCreationId } from './stack-creation-id';

export interface DatabaseBackupProps {
  envName: string;
  database: rds.DatabaseCluster | rds.DatabaseInstance;
}

/**
 * An AWS Backup plan for the database, on top of the engine's automated backups (which go with
 * a deleted database): daily recovery points kept 35 days and monthly ones kept a year, in a
 * vault of their own that outlives the stack.
 */
export class DatabaseBackup extends Construct {
  readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DatabaseBackupProps) {
    super(scope, id);
    const vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: Fn.join('-', [`lap-${props.envName}-database`, stackCreationId()]),
      // Recovery points are the point: the vault stays when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'daily',
          scheduleExpression: events.Schedule.cron({ hour: '3', minute: '0' }),
          deleteAfter: Duration.days(35),
        }),
        new backup.BackupPlanRule({
          ruleName: 'monthly',
          scheduleExpression: events.Schedule.cron({ day: '1', hour: '4', minute: '0' }),
          deleteAfter: Duration.days(365),
        }),
      ],
    });
    const selection = this.plan.addSelection('Database', {
      resources: [
        props.database instanceof rds.DatabaseCluster
          ? backup.BackupResource.fromRdsDatabaseCluster(props.database)
          : backup.BackupResource.fromRdsDatabaseInstance(props.database),
      ],
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason: 'The AWS managed policy AWS Backup documents for the role that takes the recovery points.',
    });
  }
}
