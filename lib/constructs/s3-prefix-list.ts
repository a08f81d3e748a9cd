import { type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

/**
 * The id of the region's AWS-managed S3 prefix list (`com.amazonaws.<region>.s3`), looked up at
 * deploy time (no lookup at synth, no table of ids per region): a security group that limits
 * egress must name it to let traffic reach an S3 gateway endpoint.
 */
export class S3PrefixList extends Construct {
  readonly prefixListId: string;

  constructor(
    scope: Construct,
    id: string,
    props: { logRetentionDays: number; removalPolicy: RemovalPolicy },
  ) {
    super(scope, id);
    const name = `com.amazonaws.${Stack.of(this).region}.s3`;
    const call: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'describePrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [name] }] },
      physicalResourceId: cr.PhysicalResourceId.of(name),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    };
    const lookup = new cr.AwsCustomResource(this, 'Lookup', {
      onCreate: call,
      onUpdate: call,
      // DescribePrefixLists supports no resource-level permissions.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
      logGroup: new logs.LogGroup(this, 'Logs', {
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      }),
    });
    this.prefixListId = lookup.getResponseField('PrefixLists.0.PrefixListId');
    acknowledgeWildcardResource(
      lookup,
      '*',
      'ec2:DescribePrefixLists (read-only) has no resource-level permissions.',
    );
    const provider = Stack.of(this).node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The CDK AwsCustomResource function uses the AWS managed basic execution policy only to write its logs.',
      });
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'The runtime of the CDK AwsCustomResource singleton function is chosen by the CDK version.',
      });
    }
  }
}
