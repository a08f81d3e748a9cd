/**
 * What the CloudFormation execution role needs to create, update and delete each resource type
 * LAP's templates contain: the API calls of the type's CloudFormation handlers, the calls the
 * service makes with the caller's credentials (RDS creating its managed secret, Cloud Map its
 * hosted zone, ACM its validation records, Lambda reading its code from the asset bucket, ...),
 * and a representative resource each call acts on.
 *
 * `test/infra/iam-coverage.test.ts` checks that the templates of every config contain no type
 * missing here, and that the execution policies in tools/iam/ and the permissions boundary
 * (tools/iam/permissions-boundary.json) allow every call listed (and nothing that creates a role or a
 * policy without the boundary). A new resource type therefore fails that test until its calls
 * are listed here and allowed there. Source: the handler permissions of each type's
 * CloudFormation resource schema (aws cloudformation describe-type) and the services' guides.
 *
 * Placeholders in resources and context: {account}, {region}, {env} (lap-<env>), {boundary}
 * (the permissions boundary policy ARN).
 */

export interface DeployCall {
  actions: string[];
  /** A representative ARN the calls act on ("*" for calls without resource-level permissions). */
  resource: string;
  /** Request context the calls carry (tags CloudFormation passes, the boundary of a new role, ...). */
  context?: Record<string, string>;
}

const A = 'arn:aws';
/** Tags every LAP resource carries from creation (lib/create-environment.ts). */
const TAGGED = {
  'aws:RequestTag/lap:environment': '{env}',
  'aws:ResourceTag/lap:environment': '{env}',
  'aws:TagKeys': 'lap:environment',
};
const ec2 = (actions: string[]): DeployCall => ({
  actions: actions.map((a) => `ec2:${a}`),
  resource: `${A}:ec2:{region}:{account}:*/*`,
  context: TAGGED,
});
const passRole = (service: string): DeployCall => ({
  actions: ['iam:PassRole'],
  resource: `${A}:iam::{account}:role/{env}-SomeRole-ABC123`,
  context: { 'iam:PassedToService': service },
});
const serviceLinkedRole = (service: string): DeployCall => ({
  actions: ['iam:CreateServiceLinkedRole'],
  resource: `${A}:iam::{account}:role/aws-service-role/${service}/AWSServiceRole`,
  context: { 'iam:AWSServiceName': service },
});
const logGroup = `${A}:logs:{region}:{account}:log-group:{env}-SomeLogGroup-ABC123`;
const fn = `${A}:lambda:{region}:{account}:function:{env}-SomeFunction-ABC123`;
const role = `${A}:iam::{account}:role/{env}-SomeRole-ABC123`;
const invoke: DeployCall = { actions: ['lambda:InvokeFunction'], resource: fn };
/**
 * What RDS does with the caller's rights for a cluster or an instance: create and rotate the
 * managed master password's secret (rds!cluster-... / rds!db-...), use the AWS managed key, and
 * create its service-linked role.
 */
const rdsManaged = (kind: 'cluster' | 'db'): DeployCall[] => [
  {
    actions: [
      'secretsmanager:CreateSecret',
      'secretsmanager:TagResource',
      'secretsmanager:RotateSecret',
      'secretsmanager:DeleteSecret',
      'secretsmanager:DescribeSecret',
    ],
    resource: `${A}:secretsmanager:{region}:{account}:secret:rds!${kind}-11111111-2222-3333-4444-555555555555-AbCdEf`,
  },
  {
    actions: ['kms:DescribeKey', 'kms:CreateGrant'],
    resource: `${A}:kms:{region}:{account}:key/aws-managed`,
    context: { 'kms:ViaService': 'rds.{region}.amazonaws.com' },
  },
  serviceLinkedRole('rds.amazonaws.com'),
];

export const DEPLOY_PERMISSIONS: Record<string, DeployCall[]> = {
  'AWS::EC2::VPC': [
    ec2([
      'CreateVpc',
      'DeleteVpc',
      'ModifyVpcAttribute',
      'DescribeVpcs',
      'DescribeVpcAttribute',
      'CreateTags',
      'DeleteTags',
    ]),
  ],
  'AWS::EC2::Subnet': [
    ec2(['CreateSubnet', 'DeleteSubnet', 'ModifySubnetAttribute', 'DescribeSubnets', 'CreateTags']),
  ],
  'AWS::EC2::RouteTable': [
    ec2(['CreateRouteTable', 'DeleteRouteTable', 'DescribeRouteTables', 'CreateTags']),
  ],
  'AWS::EC2::Route': [ec2(['CreateRoute', 'DeleteRoute', 'ReplaceRoute', 'DescribeRouteTables'])],
  'AWS::EC2::SubnetRouteTableAssociation': [
    ec2([
      'AssociateRouteTable',
      'DisassociateRouteTable',
      'ReplaceRouteTableAssociation',
      'DescribeRouteTables',
    ]),
  ],
  'AWS::EC2::InternetGateway': [
    ec2(['CreateInternetGateway', 'DeleteInternetGateway', 'DescribeInternetGateways', 'CreateTags']),
  ],
  'AWS::EC2::VPCGatewayAttachment': [
    ec2(['AttachInternetGateway', 'DetachInternetGateway', 'DescribeInternetGateways']),
  ],
  'AWS::EC2::EIP': [
    ec2(['AllocateAddress', 'ReleaseAddress', 'DescribeAddresses', 'CreateTags', 'DisassociateAddress']),
  ],
  'AWS::EC2::NatGateway': [
    ec2(['CreateNatGateway', 'DeleteNatGateway', 'DescribeNatGateways', 'CreateTags']),
  ],
  'AWS::EC2::SecurityGroup': [
    ec2([
      'CreateSecurityGroup',
      'DeleteSecurityGroup',
      'DescribeSecurityGroups',
      'AuthorizeSecurityGroupIngress',
      'AuthorizeSecurityGroupEgress',
      'RevokeSecurityGroupIngress',
      'RevokeSecurityGroupEgress',
      'DescribeSecurityGroupRules',
      'CreateTags',
    ]),
  ],
  'AWS::EC2::SecurityGroupIngress': [
    ec2([
      'AuthorizeSecurityGroupIngress',
      'RevokeSecurityGroupIngress',
      'DescribeSecurityGroupRules',
      'ModifySecurityGroupRules',
    ]),
  ],
  'AWS::EC2::SecurityGroupEgress': [
    ec2([
      'AuthorizeSecurityGroupEgress',
      'RevokeSecurityGroupEgress',
      'DescribeSecurityGroupRules',
      'ModifySecurityGroupRules',
    ]),
  ],
  'AWS::EC2::VPCEndpoint': [
    ec2([
      'CreateVpcEndpoint',
      'DeleteVpcEndpoints',
      'ModifyVpcEndpoint',
      'DescribeVpcEndpoints',
      'DescribePrefixLists',
      'CreateTags',
    ]),
  ],
  'AWS::EC2::FlowLog': [
    ec2(['CreateFlowLogs', 'DeleteFlowLogs', 'DescribeFlowLogs', 'CreateTags']),
    { actions: ['logs:CreateLogDelivery', 'logs:DeleteLogDelivery'], resource: '*' },
    passRole('vpc-flow-logs.amazonaws.com'),
  ],
  'AWS::EC2::Instance': [
    ec2([
      'RunInstances',
      'TerminateInstances',
      'DescribeInstances',
      'ModifyInstanceAttribute',
      'DescribeInstanceAttribute',
      'DescribeImages',
      'CreateTags',
    ]),
    passRole('ec2.amazonaws.com'),
    // The AMI is the Amazon Linux 2023 SSM public parameter, resolved by CloudFormation.
    {
      actions: ['ssm:GetParameters'],
      resource: `${A}:ssm:{region}::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64`,
    },
  ],
  'AWS::IAM::Role': [
    {
      actions: [
        'iam:CreateRole',
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
        'iam:PutRolePermissionsBoundary',
      ],
      resource: role,
      context: {
        'iam:PermissionsBoundary': '{boundary}',
        'iam:PolicyARN': `${A}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`,
      },
    },
    {
      actions: [
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:GetRolePolicy',
        'iam:TagRole',
        'iam:UntagRole',
        'iam:UpdateAssumeRolePolicy',
        'iam:UpdateRoleDescription',
        'iam:ListRolePolicies',
        'iam:ListAttachedRolePolicies',
      ],
      resource: role,
    },
  ],
  'AWS::IAM::Policy': [
    {
      actions: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:GetRolePolicy'],
      resource: role,
      context: { 'iam:PermissionsBoundary': '{boundary}' },
    },
  ],
  'AWS::IAM::InstanceProfile': [
    {
      actions: [
        'iam:CreateInstanceProfile',
        'iam:DeleteInstanceProfile',
        'iam:GetInstanceProfile',
        'iam:AddRoleToInstanceProfile',
        'iam:RemoveRoleFromInstanceProfile',
        'iam:TagInstanceProfile',
      ],
      resource: `${A}:iam::{account}:instance-profile/{env}-SomeInstanceProfile-ABC123`,
    },
    passRole('ec2.amazonaws.com'),
  ],
  'AWS::KMS::Key': [
    { actions: ['kms:CreateKey'], resource: '*', context: TAGGED },
    {
      actions: [
        'kms:DescribeKey',
        'kms:PutKeyPolicy',
        'kms:GetKeyPolicy',
        'kms:EnableKeyRotation',
        'kms:GetKeyRotationStatus',
        'kms:TagResource',
        'kms:UntagResource',
        'kms:ListResourceTags',
        'kms:ScheduleKeyDeletion',
        'kms:UpdateKeyDescription',
        'kms:EnableKey',
      ],
      resource: `${A}:kms:{region}:{account}:key/11111111-2222-3333-4444-555555555555`,
      context: TAGGED,
    },
  ],
  'AWS::SecretsManager::Secret': [
    {
      actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
      resource: `${A}:secretsmanager:{region}:{account}:secret:SomeSecret-AbCdEf`,
      context: TAGGED,
    },
    {
      actions: [
        'secretsmanager:DeleteSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:UpdateSecret',
        'secretsmanager:UntagResource',
        'secretsmanager:PutResourcePolicy',
        'secretsmanager:DeleteResourcePolicy',
      ],
      resource: `${A}:secretsmanager:{region}:{account}:secret:SomeSecret-AbCdEf`,
      context: TAGGED,
    },
    { actions: ['secretsmanager:GetRandomPassword'], resource: '*' },
  ],
  'AWS::RDS::DBSubnetGroup': [
    {
      actions: [
        'rds:CreateDBSubnetGroup',
        'rds:DeleteDBSubnetGroup',
        'rds:ModifyDBSubnetGroup',
        'rds:DescribeDBSubnetGroups',
        'rds:AddTagsToResource',
        'rds:RemoveTagsFromResource',
      ],
      resource: `${A}:rds:{region}:{account}:subgrp:{env}-datadatabaseclustersubnets-abc123`,
    },
  ],
  'AWS::RDS::DBClusterParameterGroup': [
    {
      actions: [
        'rds:CreateDBClusterParameterGroup',
        'rds:DeleteDBClusterParameterGroup',
        'rds:ModifyDBClusterParameterGroup',
        'rds:DescribeDBClusterParameterGroups',
        'rds:DescribeDBClusterParameters',
        'rds:AddTagsToResource',
      ],
      resource: `${A}:rds:{region}:{account}:cluster-pg:{env}-datadatabaseclusterparametergroup-abc123`,
    },
    { actions: ['rds:DescribeEngineDefaultClusterParameters'], resource: '*' },
  ],
  'AWS::RDS::DBParameterGroup': [
    {
      actions: [
        'rds:CreateDBParameterGroup',
        'rds:DeleteDBParameterGroup',
        'rds:ModifyDBParameterGroup',
        'rds:DescribeDBParameterGroups',
        'rds:DescribeDBParameters',
        'rds:AddTagsToResource',
      ],
      resource: `${A}:rds:{region}:{account}:pg:{env}-datadatabaseinstanceparametergroup-abc123`,
    },
    { actions: ['rds:DescribeEngineDefaultParameters'], resource: '*' },
  ],
  'AWS::RDS::DBCluster': [
    {
      actions: [
        'rds:CreateDBCluster',
        'rds:ModifyDBCluster',
        'rds:DeleteDBCluster',
        'rds:DescribeDBClusters',
        'rds:AddTagsToResource',
        'rds:RemoveTagsFromResource',
        'rds:CreateDBClusterSnapshot',
      ],
      resource: `${A}:rds:{region}:{account}:cluster:{env}-1a2b3c4d`,
    },
    ...rdsManaged('cluster'),
  ],
  'AWS::RDS::DBInstance': [
    {
      actions: [
        'rds:CreateDBInstance',
        'rds:ModifyDBInstance',
        'rds:DeleteDBInstance',
        'rds:DescribeDBInstances',
        'rds:AddTagsToResource',
        'rds:RemoveTagsFromResource',
        'rds:RebootDBInstance',
        'rds:CreateDBSnapshot',
      ],
      resource: `${A}:rds:{region}:{account}:db:{env}-datadatabaseclusterwriter-abc123`,
    },
    // A cluster instance or an instance without its own parameter group uses the engine default.
    {
      actions: ['rds:CreateDBInstance'],
      resource: `${A}:rds:{region}:{account}:pg:default.aurora-postgresql17`,
    },
    ...rdsManaged('db'),
  ],
  'AWS::Logs::LogGroup': [
    {
      actions: [
        'logs:CreateLogGroup',
        'logs:DeleteLogGroup',
        'logs:PutRetentionPolicy',
        'logs:DeleteRetentionPolicy',
        'logs:TagResource',
        'logs:UntagResource',
        'logs:DescribeLogGroups',
        'logs:ListTagsForResource',
      ],
      resource: logGroup,
    },
    {
      actions: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteLogGroup', 'logs:TagResource'],
      resource: `${A}:logs:{region}:{account}:log-group:/aws/rds/cluster/{env}-1a2b3c4d/postgresql`,
    },
    {
      actions: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteLogGroup', 'logs:TagResource'],
      resource: `${A}:logs:{region}:{account}:log-group:aws-waf-logs-{env}`,
    },
  ],
  'AWS::Logs::MetricFilter': [
    {
      actions: ['logs:PutMetricFilter', 'logs:DeleteMetricFilter', 'logs:DescribeMetricFilters'],
      resource: logGroup,
    },
  ],
  'AWS::Lambda::Function': [
    {
      actions: [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:TagResource',
        'lambda:UntagResource',
        'lambda:ListTags',
        'lambda:GetFunctionConfiguration',
        'lambda:PutFunctionConcurrency',
        'lambda:DeleteFunctionConcurrency',
      ],
      resource: fn,
    },
    passRole('lambda.amazonaws.com'),
    // The code: the zip CDK published to the bootstrap bucket.
    {
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resource: `${A}:s3:::cdk-hnb659fds-assets-{account}-{region}/abc.zip`,
    },
    // A function in a VPC: Lambda checks the subnets and groups with the caller's rights.
    { actions: ['ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'], resource: '*' },
  ],
  'AWS::Lambda::Version': [
    {
      actions: [
        'lambda:PublishVersion',
        'lambda:GetFunction',
        'lambda:ListVersionsByFunction',
        'lambda:DeleteFunction',
      ],
      resource: fn,
    },
  ],
  'AWS::Lambda::Permission': [
    { actions: ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy'], resource: fn },
  ],
  'AWS::ECS::Cluster': [
    {
      actions: [
        'ecs:CreateCluster',
        'ecs:DeleteCluster',
        'ecs:DescribeClusters',
        'ecs:UpdateCluster',
        'ecs:UpdateClusterSettings',
        'ecs:TagResource',
        'ecs:UntagResource',
        'ecs:PutClusterCapacityProviders',
      ],
      resource: `${A}:ecs:{region}:{account}:cluster/{env}-PlatformCluster-ABC123`,
    },
    serviceLinkedRole('ecs.amazonaws.com'),
  ],
  'AWS::ECS::ClusterCapacityProviderAssociations': [
    {
      actions: ['ecs:PutClusterCapacityProviders', 'ecs:DescribeClusters'],
      resource: `${A}:ecs:{region}:{account}:cluster/{env}-PlatformCluster-ABC123`,
    },
  ],
  'AWS::ECS::TaskDefinition': [
    { actions: ['ecs:RegisterTaskDefinition', 'ecs:TagResource'], resource: '*', context: TAGGED },
    {
      actions: ['ecs:DeregisterTaskDefinition', 'ecs:DescribeTaskDefinition', 'ecs:DeleteTaskDefinitions'],
      resource: '*',
    },
    passRole('ecs-tasks.amazonaws.com'),
  ],
  'AWS::ECS::Service': [
    {
      actions: [
        'ecs:CreateService',
        'ecs:UpdateService',
        'ecs:DeleteService',
        'ecs:DescribeServices',
        'ecs:TagResource',
        'ecs:UntagResource',
      ],
      resource: `${A}:ecs:{region}:{account}:service/{env}-PlatformCluster-ABC123/{env}-PlatformService-ABC123`,
    },
    {
      actions: [
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeListeners',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      resource: '*',
    },
    {
      actions: [
        'servicediscovery:GetNamespace',
        'servicediscovery:GetService',
        'servicediscovery:RegisterInstance',
      ],
      resource: `${A}:servicediscovery:{region}:{account}:service/srv-abc123`,
    },
    serviceLinkedRole('ecs.amazonaws.com'),
  ],
  'AWS::ElasticLoadBalancingV2::LoadBalancer': [
    {
      actions: [
        'elasticloadbalancing:CreateLoadBalancer',
        'elasticloadbalancing:DeleteLoadBalancer',
        'elasticloadbalancing:ModifyLoadBalancerAttributes',
        'elasticloadbalancing:SetSecurityGroups',
        'elasticloadbalancing:SetSubnets',
        'elasticloadbalancing:AddTags',
        'elasticloadbalancing:RemoveTags',
      ],
      resource: `${A}:elasticloadbalancing:{region}:{account}:loadbalancer/app/{env}-Platf-ABC123/0123456789abcdef`,
    },
    {
      actions: [
        'elasticloadbalancing:DescribeLoadBalancers',
        'elasticloadbalancing:DescribeLoadBalancerAttributes',
        'elasticloadbalancing:DescribeTags',
      ],
      resource: '*',
    },
    serviceLinkedRole('elasticloadbalancing.amazonaws.com'),
  ],
  'AWS::ElasticLoadBalancingV2::TargetGroup': [
    {
      actions: [
        'elasticloadbalancing:CreateTargetGroup',
        'elasticloadbalancing:DeleteTargetGroup',
        'elasticloadbalancing:ModifyTargetGroup',
        'elasticloadbalancing:ModifyTargetGroupAttributes',
        'elasticloadbalancing:AddTags',
      ],
      resource: `${A}:elasticloadbalancing:{region}:{account}:targetgroup/{env}-Platf-ABC123/0123456789abcdef`,
    },
    {
      actions: [
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetGroupAttributes',
      ],
      resource: '*',
    },
  ],
  'AWS::ElasticLoadBalancingV2::Listener': [
    {
      actions: [
        'elasticloadbalancing:CreateListener',
        'elasticloadbalancing:DeleteListener',
        'elasticloadbalancing:ModifyListener',
        'elasticloadbalancing:AddTags',
      ],
      resource: `${A}:elasticloadbalancing:{region}:{account}:listener/app/{env}-Platf-ABC123/0123456789abcdef/0123456789abcdef`,
    },
    { actions: ['elasticloadbalancing:DescribeListeners'], resource: '*' },
  ],
  'AWS::S3::Bucket': [
    {
      actions: [
        's3:CreateBucket',
        's3:DeleteBucket',
        's3:PutEncryptionConfiguration',
        's3:PutBucketPublicAccessBlock',
        's3:PutBucketOwnershipControls',
        's3:PutLifecycleConfiguration',
        's3:PutBucketTagging',
        's3:GetBucketTagging',
        's3:GetBucketLocation',
        's3:ListBucket',
      ],
      resource: `${A}:s3:::{env}-platformapiaccesslogs-abc123`,
    },
  ],
  'AWS::S3::BucketPolicy': [
    {
      actions: ['s3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:GetBucketPolicy'],
      resource: `${A}:s3:::{env}-platformapiaccesslogs-abc123`,
    },
  ],
  'AWS::SNS::Topic': [
    {
      actions: [
        'sns:CreateTopic',
        'sns:DeleteTopic',
        'sns:GetTopicAttributes',
        'sns:SetTopicAttributes',
        'sns:TagResource',
        'sns:ListTagsForResource',
      ],
      resource: `${A}:sns:{region}:{account}:{env}-PlatformMonitoringAlarms-ABC123`,
    },
  ],
  'AWS::SNS::TopicPolicy': [
    {
      actions: ['sns:SetTopicAttributes', 'sns:GetTopicAttributes'],
      resource: `${A}:sns:{region}:{account}:{env}-PlatformMonitoringAlarms-ABC123`,
    },
  ],
  'AWS::SNS::Subscription': [
    {
      actions: [
        'sns:Subscribe',
        'sns:Unsubscribe',
        'sns:GetSubscriptionAttributes',
        'sns:SetSubscriptionAttributes',
      ],
      resource: `${A}:sns:{region}:{account}:{env}-PlatformMonitoringAlarms-ABC123`,
    },
  ],
  'AWS::SQS::Queue': [
    {
      actions: [
        'sqs:CreateQueue',
        'sqs:DeleteQueue',
        'sqs:GetQueueAttributes',
        'sqs:SetQueueAttributes',
        'sqs:TagQueue',
        'sqs:ListQueueTags',
      ],
      resource: `${A}:sqs:{region}:{account}:{env}-PlatformTaskStateEventsDeadLetters-ABC123`,
    },
  ],
  'AWS::SQS::QueuePolicy': [
    {
      actions: ['sqs:SetQueueAttributes', 'sqs:GetQueueAttributes'],
      resource: `${A}:sqs:{region}:{account}:{env}-PlatformTaskStateEventsDeadLetters-ABC123`,
    },
  ],
  'AWS::Events::Rule': [
    {
      actions: [
        'events:PutRule',
        'events:DeleteRule',
        'events:DescribeRule',
        'events:PutTargets',
        'events:RemoveTargets',
        'events:TagResource',
        'events:ListTargetsByRule',
      ],
      resource: `${A}:events:{region}:{account}:rule/{env}-PlatformTaskStateEventsRule-ABC123`,
    },
  ],
  'AWS::Scheduler::Schedule': [
    {
      actions: [
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
      ],
      resource: `${A}:scheduler:{region}:{account}:schedule/default/{env}-PlatformWarmPoolSchedule-ABC123`,
    },
    passRole('scheduler.amazonaws.com'),
  ],
  'AWS::CloudWatch::Alarm': [
    {
      actions: [
        'cloudwatch:PutMetricAlarm',
        'cloudwatch:DeleteAlarms',
        'cloudwatch:DescribeAlarms',
        'cloudwatch:TagResource',
        'cloudwatch:ListTagsForResource',
      ],
      resource: `${A}:cloudwatch:{region}:{account}:alarm:{env}-api-5xx`,
    },
  ],
  'AWS::CloudWatch::Dashboard': [
    {
      actions: ['cloudwatch:PutDashboard', 'cloudwatch:DeleteDashboards', 'cloudwatch:GetDashboard'],
      resource: `${A}:cloudwatch::{account}:dashboard/{env}-{region}`,
    },
  ],
  'AWS::ServiceDiscovery::PrivateDnsNamespace': [
    {
      actions: [
        'servicediscovery:CreatePrivateDnsNamespace',
        'servicediscovery:DeleteNamespace',
        'servicediscovery:GetNamespace',
        'servicediscovery:GetOperation',
        'servicediscovery:TagResource',
        'servicediscovery:ListTagsForResource',
        'servicediscovery:UpdatePrivateDnsNamespace',
      ],
      resource: '*',
    },
    // Cloud Map creates the namespace's private hosted zone with the caller's rights.
    {
      actions: [
        'route53:CreateHostedZone',
        'route53:DeleteHostedZone',
        'route53:GetHostedZone',
        'route53:ListHostedZonesByName',
        'route53:ChangeTagsForResource',
        'route53:AssociateVPCWithHostedZone',
      ],
      resource: `${A}:route53:::hostedzone/Z0000000000000000000`,
    },
    { actions: ['ec2:DescribeVpcs', 'ec2:DescribeRegions'], resource: '*' },
  ],
  'AWS::ServiceDiscovery::Service': [
    {
      actions: [
        'servicediscovery:CreateService',
        'servicediscovery:DeleteService',
        'servicediscovery:GetService',
        'servicediscovery:UpdateService',
        'servicediscovery:TagResource',
      ],
      resource: `${A}:servicediscovery:{region}:{account}:service/srv-abc123`,
    },
    {
      actions: ['servicediscovery:CreateService'],
      resource: `${A}:servicediscovery:{region}:{account}:namespace/ns-abc123`,
    },
    {
      actions: ['route53:GetHostedZone', 'route53:CreateHealthCheck', 'route53:ChangeResourceRecordSets'],
      resource: `${A}:route53:::hostedzone/Z0000000000000000000`,
    },
  ],
  'AWS::ApplicationAutoScaling::ScalableTarget': [
    {
      actions: [
        'application-autoscaling:RegisterScalableTarget',
        'application-autoscaling:DeregisterScalableTarget',
        'application-autoscaling:DescribeScalableTargets',
        'application-autoscaling:TagResource',
      ],
      resource: '*',
    },
    {
      actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
      resource: `${A}:ecs:{region}:{account}:service/{env}-PlatformCluster-ABC123/{env}-PlatformService-ABC123`,
    },
    serviceLinkedRole('ecs.application-autoscaling.amazonaws.com'),
  ],
  'AWS::ApplicationAutoScaling::ScalingPolicy': [
    {
      actions: [
        'application-autoscaling:PutScalingPolicy',
        'application-autoscaling:DeleteScalingPolicy',
        'application-autoscaling:DescribeScalingPolicies',
      ],
      resource: '*',
    },
    {
      actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms', 'cloudwatch:DescribeAlarms'],
      resource: `${A}:cloudwatch:{region}:{account}:alarm:TargetTracking-service/{env}-PlatformCluster-ABC123/x-AlarmHigh-1111`,
    },
  ],
  'AWS::CertificateManager::Certificate': [
    { actions: ['acm:RequestCertificate', 'acm:AddTagsToCertificate'], resource: '*', context: TAGGED },
    {
      actions: [
        'acm:DescribeCertificate',
        'acm:DeleteCertificate',
        'acm:ListTagsForCertificate',
        'acm:RemoveTagsFromCertificate',
      ],
      resource: `${A}:acm:{region}:{account}:certificate/11111111-2222-3333-4444-555555555555`,
    },
    // DNS validation: CloudFormation writes the validation record into the configured zone.
    {
      actions: ['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'],
      resource: `${A}:route53:::hostedzone/Z0123456789ABCDEFGHIJ`,
    },
    { actions: ['route53:GetChange'], resource: `${A}:route53:::change/C0000000000000` },
  ],
  'AWS::Route53::RecordSet': [
    {
      actions: [
        'route53:ChangeResourceRecordSets',
        'route53:ListResourceRecordSets',
        'route53:GetHostedZone',
      ],
      resource: `${A}:route53:::hostedzone/Z0123456789ABCDEFGHIJ`,
    },
    { actions: ['route53:GetChange'], resource: `${A}:route53:::change/C0000000000000` },
    { actions: ['elasticloadbalancing:DescribeLoadBalancers'], resource: '*' },
  ],
  'AWS::WAFv2::WebACL': [
    {
      actions: [
        'wafv2:CreateWebACL',
        'wafv2:DeleteWebACL',
        'wafv2:GetWebACL',
        'wafv2:UpdateWebACL',
        'wafv2:TagResource',
        'wafv2:ListTagsForResource',
      ],
      resource: `${A}:wafv2:{region}:{account}:regional/webacl/{env}-PlatformApiWebAcl-ABC123/11111111-2222-3333-4444-555555555555`,
    },
    {
      actions: ['wafv2:CreateWebACL', 'wafv2:UpdateWebACL'],
      resource: `${A}:wafv2:{region}:{account}:regional/managedruleset/*/*`,
    },
  ],
  'AWS::WAFv2::WebACLAssociation': [
    {
      actions: ['wafv2:AssociateWebACL', 'wafv2:DisassociateWebACL', 'wafv2:GetWebACLForResource'],
      resource: `${A}:wafv2:{region}:{account}:regional/webacl/{env}-PlatformApiWebAcl-ABC123/11111111-2222-3333-4444-555555555555`,
    },
    {
      actions: ['elasticloadbalancing:SetWebAcl'],
      resource: `${A}:elasticloadbalancing:{region}:{account}:loadbalancer/app/{env}-Platf-ABC123/0123456789abcdef`,
    },
  ],
  'AWS::WAFv2::LoggingConfiguration': [
    {
      actions: [
        'wafv2:PutLoggingConfiguration',
        'wafv2:DeleteLoggingConfiguration',
        'wafv2:GetLoggingConfiguration',
      ],
      resource: `${A}:wafv2:{region}:{account}:regional/webacl/{env}-PlatformApiWebAcl-ABC123/11111111-2222-3333-4444-555555555555`,
    },
    // WAF delivers through a CloudWatch Logs resource policy it writes with the caller's rights.
    {
      actions: [
        'logs:CreateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:PutResourcePolicy',
        'logs:DescribeResourcePolicies',
        'logs:DescribeLogGroups',
      ],
      resource: '*',
    },
    serviceLinkedRole('wafv2.amazonaws.com'),
  ],
  'AWS::Backup::BackupVault': [
    {
      actions: [
        'backup:CreateBackupVault',
        'backup:DeleteBackupVault',
        'backup:DescribeBackupVault',
        'backup:TagResource',
        'backup:ListTags',
        'backup-storage:MountCapsule',
      ],
      resource: `${A}:backup:{region}:{account}:backup-vault:{env}-database-1a2b3c4d`,
    },
    { actions: ['backup-storage:MountCapsule'], resource: '*' },
    {
      actions: [
        'kms:DescribeKey',
        'kms:CreateGrant',
        'kms:GenerateDataKey',
        'kms:Decrypt',
        'kms:RetireGrant',
      ],
      resource: `${A}:kms:{region}:{account}:key/aws-managed`,
      context: { 'kms:ViaService': 'backup.{region}.amazonaws.com' },
    },
  ],
  'AWS::Backup::BackupPlan': [
    {
      actions: [
        'backup:CreateBackupPlan',
        'backup:UpdateBackupPlan',
        'backup:DeleteBackupPlan',
        'backup:GetBackupPlan',
        'backup:TagResource',
      ],
      resource: `${A}:backup:{region}:{account}:backup-plan:11111111-2222-3333-4444-555555555555`,
    },
  ],
  'AWS::Backup::BackupSelection': [
    {
      actions: ['backup:CreateBackupSelection', 'backup:DeleteBackupSelection', 'backup:GetBackupSelection'],
      resource: `${A}:backup:{region}:{account}:backup-plan:11111111-2222-3333-4444-555555555555`,
    },
    passRole('backup.amazonaws.com'),
  ],
  // Custom resources: CloudFormation invokes their provider function.
  'Custom::LapVaultCertificateAuthority': [invoke],
  'Custom::Trigger': [invoke],
  'Custom::VpcRestrictDefaultSG': [invoke],
  'Custom::AWS': [invoke],
};

/** Calls every deploy makes whatever the resources: the bootstrap version parameter. */
export const STACK_PERMISSIONS: DeployCall[] = [
  {
    actions: ['ssm:GetParameters'],
    resource: `${A}:ssm:{region}:{account}:parameter/cdk-bootstrap/hnb659fds/version`,
  },
];
