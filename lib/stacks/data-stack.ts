import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { PlatformDatabase } from '../constructs/platform-database';
import { PlatformSecrets } from '../constructs/platform-secrets';
import { VaultCertificateAuthority } from '../constructs/vault-certificate-authority';

export interface DataStackProps extends EnvironmentStackProps {
  vpc: ec2.IVpc;
  databaseSecurityGroup: ec2.ISecurityGroup;
}

/**
 * Everything stateful: the database, the secrets, the agent secrets key and the vault CA.
 * Termination protection is on; in production the database is snapshotted on removal and the
 * secrets and key are retained.
 */
export class DataStack extends EnvironmentStack {
  readonly database: PlatformDatabase;
  readonly secrets: PlatformSecrets;
  readonly vaultCa: VaultCertificateAuthority;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: true });
    const { config } = props;
    const prod = config.production;

    this.secrets = new PlatformSecrets(this, 'Secrets', {
      envName: config.envName,
      gatewayKeySecretArn: config.gatewayKeySecretArn,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vaultCa = new VaultCertificateAuthority(this, 'VaultCA', {
      envName: config.envName,
      logRetentionDays: config.platform.logRetentionDays,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.database = new PlatformDatabase(this, 'Database', {
      envName: config.envName,
      vpc: props.vpc,
      securityGroup: props.databaseSecurityGroup,
      database: config.database,
      removalPolicy: prod ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      logRetentionDays: config.platform.logRetentionDays,
    });

    new CfnOutput(this, 'MasterKeySecretArn', {
      description: 'Secret holding MASTER_KEY (the admin API key)',
      value: this.secrets.platform.secretArn,
    });
    new CfnOutput(this, 'GetMasterKeyCommand', {
      description: 'Prints MASTER_KEY (for `lap login`)',
      value: `aws secretsmanager get-secret-value --region ${this.region} --secret-id ${this.secrets.platform.secretArn} --query SecretString --output text | jq -r .MASTER_KEY`,
    });
  }
}
