import { CfnOutput, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EGRESS_GATEWAY_SERVER_NAME } from '@lap/sandbox-protocol';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { DatabaseBackup } from '../constructs/database-backup';
import { PlatformDatabase } from '../constructs/platform-database';
import { PlatformSecrets } from '../constructs/platform-secrets';
import { VaultCertificateAuthority } from '../constructs/vault-certificate-authority';

export interface DataProps {
  config: DeploymentConfig;
  vpc: ec2.IVpc;
  databaseSecurityGroup: ec2.ISecurityGroup;
  /** Of the secrets, keys and log groups (the database snapshots in production). */
  removalPolicy: RemovalPolicy;
}

/**
 * Everything stateful: the database (and its backup plan), the secrets, the agent secrets key
 * and the vault CA. In production the database is snapshotted on removal and the secrets, key
 * and log groups are retained when the stack is deleted (not when a failed first create rolls
 * back: RETAIN_ON_UPDATE_OR_DELETE).
 */
export class Data extends Construct {
  readonly database: PlatformDatabase;
  readonly secrets: PlatformSecrets;
  readonly vaultCa: VaultCertificateAuthority;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { config, removalPolicy } = props;
    const stack = Stack.of(this);

    this.secrets = new PlatformSecrets(this, 'Secrets', {
      envName: config.envName,
      gatewayKeySecretArn: config.gatewayKeySecretArn,
      egress: config.sandbox.egress,
      removalPolicy,
    });
    this.vaultCa = new VaultCertificateAuthority(this, 'VaultCA', {
      envName: config.envName,
      logRetentionDays: config.platform.logRetentionDays,
      removalPolicy,
      egressGatewayServerName: config.sandbox.egress === 'enforced' ? EGRESS_GATEWAY_SERVER_NAME : undefined,
    });
    this.database = new PlatformDatabase(this, 'Database', {
      envName: config.envName,
      vpc: props.vpc,
      securityGroup: props.databaseSecurityGroup,
      database: config.database,
      removalPolicy: config.production ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      logRetentionDays: config.platform.logRetentionDays,
    });
    if (config.database.backupPlan) {
      new DatabaseBackup(this, 'Backup', { envName: config.envName, database: this.database.resource });
    }

    new CfnOutput(stack, 'MasterKeySecretArn', {
      description: 'Secret holding MASTER_KEY (the admin API key)',
      value: this.secrets.platform.secretArn,
    });
    new CfnOutput(stack, 'GetMasterKeyCommand', {
      description: 'Prints MASTER_KEY (for `lap login`)',
      value: `aws secretsmanager get-secret-value --region ${stack.region} --secret-id ${this.secrets.platform.secretArn} --query SecretString --output text | jq -r .MASTER_KEY`,
    });
  }
}
