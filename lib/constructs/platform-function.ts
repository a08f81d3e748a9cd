import fs from 'node:fs';
import path from 'node:path';
import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { FUNCTION_PROJECT, REPO_ROOT, functionBundling } from './function-bundling';
import { SUBNETS } from './vpc-network';

export interface PlatformFunctionProps {
  /** Folder under lambda/ holding index.ts (e.g. "warm-pool"). */
  handlerName: string;
  description: string;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  /** The function's environment (lambda/shared/settings.ts): plain settings, never secret values. */
  environment: Record<string, string>;
  /** Secrets the handler reads itself at cold start (their ARNs are in `environment`). */
  readableSecrets?: secretsmanager.ISecret[];
  timeout: Duration;
  memorySizeMiB?: number;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** Extra files copied next to the bundle: repository path -> path inside the bundle. */
  copyIntoBundle?: Record<string, string>;
  architecture: lambda.Architecture;
}

/**
 * A thin Lambda handler from `lambda/<name>/index.ts` (its logic lives in the platform package),
 * bundled locally by esbuild, in the private subnets with the functions security group, with its
 * own log group. Secrets reach it as ARNs it resolves at cold start, never as values.
 */
export class PlatformFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    super(scope, id);
    const entry = path.join(REPO_ROOT, 'lambda', props.handlerName, 'index.ts');
    if (!fs.existsSync(entry)) {
      throw new Error(
        `lambda/${props.handlerName}/index.ts does not exist: the ${props.handlerName} handler is required by the platform stack`,
      );
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    const copies = Object.entries(props.copyIntoBundle ?? {});
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry,
      ...FUNCTION_PROJECT,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: props.architecture,
      memorySize: props.memorySizeMiB ?? 512,
      timeout: props.timeout,
      // No reserved concurrency: new accounts (quota 10) refuse any; overlapping scheduler runs
      // are safe (the reaper takes an advisory lock, the warm pool plans under one).
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: SUBNETS.private },
      securityGroups: [props.securityGroup],
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: functionBundling(
        copies.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) =>
                  copies.map(
                    ([from, to]) => `cp -R "${path.join(inputDir, from)}" "${path.join(outputDir, to)}"`,
                  ),
              },
            }
          : {},
      ),
    });
    for (const secret of props.readableSecrets ?? []) secret.grantRead(this.function);

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS managed policy scoped to writing this function its own CloudWatch logs.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason: 'AWS managed policy scoped to creating and deleting the ENIs this VPC function needs.',
    });
  }
}
