import path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { FunctionEnvironment, vaultCaFunctionEnvSchema } from '../../lambda/shared/settings';
import type { VaultCaProperties } from '../../lambda/vault-ca';
import { FUNCTION_PROJECT, REPO_ROOT, functionBundling } from './function-bundling';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

export interface VaultCertificateAuthorityProps {
  envName: string;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** Also issue the egress gateway's server certificate for this TLS server name (`sandbox.egress` "enforced"). */
  egressGatewayServerName?: string;
}

/** A certificate and its private key, each in its own secret (PEM). */
export interface CertificateSecrets {
  certificate: secretsmanager.Secret;
  privateKey: secretsmanager.Secret;
}

/**
 * The deployment CA of the sandbox vaults (TLS interception and the vault admin endpoint),
 * created at deploy time by `lambda/vault-ca` into two secrets: the certificate (read by the
 * platform and every sandbox) and the private key (read only by the sandbox execution role, for
 * the vault container). With the egress gateway, the same function issues the gateway's server
 * certificate (signed by that CA, which the vaults verify) into two more secrets, read only by
 * the gateway's execution role. No value passes through CloudFormation; replaced secrets are
 * filled again on the update that replaces them.
 */
export class VaultCertificateAuthority extends Construct {
  readonly certificate: secretsmanager.Secret;
  readonly privateKey: secretsmanager.Secret;
  readonly egressGateway?: CertificateSecrets;

  constructor(scope: Construct, id: string, props: VaultCertificateAuthorityProps) {
    super(scope, id);
    const emptySecret = (name: string, description: string) => {
      const secret = new secretsmanager.Secret(this, name, {
        description,
        removalPolicy: props.removalPolicy,
      });
      (secret.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride(
        'GenerateSecretString',
      );
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The vault CA (and the gateway certificate it signs) lives 10 years and every sandbox trusts it; replacing it is a planned operation (docs/upgrading.md), not a scheduled rotation.',
      });
      return secret;
    };
    this.certificate = emptySecret('Certificate', `LAP ${props.envName}: vault CA certificate (PEM)`);
    this.privateKey = emptySecret('PrivateKey', `LAP ${props.envName}: vault CA private key (PEM)`);
    if (props.egressGatewayServerName) {
      this.egressGateway = {
        certificate: emptySecret(
          'GatewayCertificate',
          `LAP ${props.envName}: egress gateway TLS certificate (PEM, signed by the vault CA)`,
        ),
        privateKey: emptySecret(
          'GatewayPrivateKey',
          `LAP ${props.envName}: egress gateway TLS private key (PEM)`,
        ),
      };
    }
    const managed = [this.certificate, this.privateKey];
    if (this.egressGateway) managed.push(this.egressGateway.certificate, this.egressGateway.privateKey);

    const onEvent = new nodejs.NodejsFunction(this, 'Handler', {
      entry: path.join(REPO_ROOT, 'lambda/vault-ca/index.ts'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(2),
      description: `LAP ${props.envName}: creates the vault CA (and the egress gateway certificate) into Secrets Manager at deploy time`,
      ...FUNCTION_PROJECT,
      bundling: functionBundling(),
      environment: { NODE_OPTIONS: '--enable-source-maps' } satisfies FunctionEnvironment<
        typeof vaultCaFunctionEnvSchema
      >,
      logGroup: new logs.LogGroup(this, 'HandlerLogs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      }),
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    // Read too: the gateway certificate is signed with the stored CA, and checked against it on updates.
    for (const secret of managed) {
      secret.grantWrite(onEvent);
      secret.grantRead(onEvent);
    }
    Validations.of(onEvent).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The AWS managed basic execution policy only lets this function write its own CloudWatch logs.',
    });

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      }),
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'The CDK provider framework function uses the AWS managed basic execution policy only to write its logs.',
    });
    acknowledgeWildcardResource(
      provider,
      `${onEvent.functionArn}:*`,
      'The provider framework may invoke any version of its one handler function, and nothing else.',
    );

    new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::LapVaultCertificateAuthority',
      properties: {
        CertificateSecretArn: this.certificate.secretArn,
        PrivateKeySecretArn: this.privateKey.secretArn,
        CommonName: `LAP ${props.envName} sandbox vault CA`,
        ...(this.egressGateway
          ? {
              GatewayCertificateSecretArn: this.egressGateway.certificate.secretArn,
              GatewayPrivateKeySecretArn: this.egressGateway.privateKey.secretArn,
              GatewayServerName: props.egressGatewayServerName,
            }
          : {}),
      } satisfies VaultCaProperties,
    });
  }
}
