import { Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { stackCreationId } from './stack-creation-id';

export interface PlatformDatabaseProps {
  envName: string;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  database: DeploymentConfig['database'];
  removalPolicy: RemovalPolicy;
  logRetentionDays: number;
}

export const DATABASE_NAME = 'lap';
export const DATABASE_USER = 'lap';

/**
 * PostgreSQL 17 for the control plane: Aurora Serverless v2 or one RDS instance. The master
 * password is managed by RDS in Secrets Manager (generated and rotated by RDS, never in the
 * template). Storage encrypted, TLS required, backups as configured.
 */
export class PlatformDatabase extends Construct {
  readonly host: string;
  /** The port, as the environment writes it (a token until deploy time). */
  readonly port: `${number}`;
  /** The RDS-managed secret (`{"username","password"}`). */
  readonly secret: secretsmanager.ISecret;
  /** The resource that deletion protection and snapshots apply to (cluster or instance). */
  readonly resource: rds.DatabaseCluster | rds.DatabaseInstance;
  readonly metrics: { cpu: () => cloudwatch.Metric; connections: () => cloudwatch.Metric };

  constructor(scope: Construct, id: string, props: PlatformDatabaseProps) {
    super(scope, id);
    const { database: db } = props;
    const subnetType = db.publiclyAccessible ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED;
    const credentials = rds.Credentials.fromUsername(DATABASE_USER);
    const logExports = ['postgresql'];
    // Unique per stack creation: a failed first create whose database survives its rollback
    // (deletion protection) never blocks the retry with "already exists".
    const identifier = Fn.join('-', [`lap-${props.envName}`, stackCreationId()]);

    if (db.engine === 'aurora-serverless-v2') {
      const engine = rds.DatabaseClusterEngine.auroraPostgres({
        version: rds.AuroraPostgresEngineVersion.VER_17_7,
      });
      const cluster = new rds.DatabaseCluster(this, 'Cluster', {
        engine,
        vpc: props.vpc,
        vpcSubnets: { subnetType },
        securityGroups: [props.securityGroup],
        credentials,
        manageMasterUserPassword: true,
        defaultDatabaseName: DATABASE_NAME,
        writer: rds.ClusterInstance.serverlessV2('Writer', { publiclyAccessible: db.publiclyAccessible }),
        readers: db.multiAz
          ? [
              rds.ClusterInstance.serverlessV2('Reader', {
                scaleWithWriter: true,
                publiclyAccessible: db.publiclyAccessible,
              }),
            ]
          : [],
        serverlessV2MinCapacity: db.minCapacityAcu,
        serverlessV2MaxCapacity: db.maxCapacityAcu,
        // Pauses only without any connection: the services close idle connections after 30 s and
        // the schedulers skip the database while no sandbox runs (lambda/shared/sandbox-activity.ts).
        serverlessV2AutoPauseDuration:
          db.minCapacityAcu === 0 ? Duration.minutes(db.autoPauseMinutes) : undefined,
        storageEncrypted: true,
        iamAuthentication: true,
        deletionProtection: db.deletionProtection,
        removalPolicy: props.removalPolicy,
        backup: { retention: Duration.days(db.backupRetentionDays) },
        cloudwatchLogsExports: logExports,
        parameters: { 'rds.force_ssl': '1' },
        copyTagsToSnapshot: true,
        clusterIdentifier: identifier,
      });
      cluster.node.addDependency(this.logGroup('cluster', identifier, props));
      this.resource = cluster;
      this.host = cluster.clusterEndpoint.hostname;
      this.port = `${cluster.clusterEndpoint.port}`;
      this.secret = cluster.secret!;
      this.metrics = {
        cpu: () => cluster.metricCPUUtilization({ period: Duration.minutes(5) }),
        connections: () => cluster.metricDatabaseConnections({ period: Duration.minutes(5) }),
      };
    } else {
      const instance = new rds.DatabaseInstance(this, 'Instance', {
        engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
        instanceType: new ec2.InstanceType(db.instanceType),
        vpc: props.vpc,
        vpcSubnets: { subnetType },
        securityGroups: [props.securityGroup],
        publiclyAccessible: db.publiclyAccessible,
        credentials,
        manageMasterUserPassword: true,
        databaseName: DATABASE_NAME,
        allocatedStorage: db.allocatedStorageGiB,
        storageType: rds.StorageType.GP3,
        storageEncrypted: true,
        iamAuthentication: true,
        multiAz: db.multiAz,
        deletionProtection: db.deletionProtection,
        removalPolicy: props.removalPolicy,
        backupRetention: Duration.days(db.backupRetentionDays),
        cloudwatchLogsExports: logExports,
        parameters: { 'rds.force_ssl': '1' },
        copyTagsToSnapshot: true,
        instanceIdentifier: identifier,
      });
      instance.node.addDependency(this.logGroup('instance', identifier, props));
      if (db.backupRetentionDays === 0) {
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-RDS13',
          reason: 'Backups are off by configuration (database.backupRetentionDays 0); synth warns about it.',
        });
      }
      if (!db.multiAz) {
        Validations.of(instance).acknowledge({
          id: 'AwsSolutions-RDS3',
          reason:
            'Single-AZ by configuration (database.multiAz false, the development default) to halve the instance cost.',
        });
      }
      this.resource = instance;
      this.host = instance.dbInstanceEndpointAddress;
      this.port = `${instance.instanceEndpoint.port}`;
      this.secret = instance.secret!;
      this.metrics = {
        cpu: () => instance.metricCPUUtilization({ period: Duration.minutes(5) }),
        connections: () => instance.metricDatabaseConnections({ period: Duration.minutes(5) }),
      };
    }
    Validations.of(this.resource).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'The default PostgreSQL port is kept: the database is reachable only from two security groups, so a non-default port adds no protection.',
    });
    if (!db.deletionProtection) {
      Validations.of(this.resource).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason:
          'Deletion protection is off by configuration (database.deletionProtection false, the development default); production turns it on.',
      });
    }
  }

  /**
   * The log group RDS exports PostgreSQL logs to, created here (before the database) so its
   * retention is ours without the LogRetention helper function.
   */
  private logGroup(
    kind: 'cluster' | 'instance',
    identifier: string,
    props: PlatformDatabaseProps,
  ): logs.LogGroup {
    return new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/${kind}/${identifier}/postgresql`,
      retention: props.logRetentionDays as logs.RetentionDays,
      // Kept with the snapshot when the stack goes, deleted when a failed create rolls back.
      removalPolicy:
        props.removalPolicy === RemovalPolicy.SNAPSHOT
          ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
          : props.removalPolicy,
    });
  }
}
