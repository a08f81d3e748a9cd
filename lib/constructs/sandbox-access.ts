import { Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { SandboxTaskDefinitions } from './sandbox-task-definitions';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

/**
 * The IAM permissions for operating sandboxes, each scoped to the sandbox cluster, the sandbox
 * task definition families and roles, and the sandbox log group:
 *   observe:   describe/list tasks, read task definitions;
 *   readLogs:  read the sandbox log group (what a vault or harness printed);
 *   stop:      stop sandbox tasks;
 *   launch:    run (and tag) tasks of the sandbox families, register pinned-image families,
 *              pass the two sandbox roles to ECS.
 * The internet-facing web service gets observe and stop only: launch (with its container
 * overrides and the execution role that reads the vault's secrets) and the logs (where a
 * launched task could print them) are the worker's.
 */
export class SandboxAccess {
  constructor(
    private readonly cluster: ecs.ICluster,
    private readonly sandboxes: SandboxTaskDefinitions,
    private readonly envName: string,
  ) {}

  private get taskArns(): string {
    return Stack.of(this.cluster).formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${this.cluster.clusterName}/*`,
    });
  }

  private get onCluster() {
    return { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } };
  }

  grantObserve(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks'],
        resources: [this.taskArns],
        conditions: this.onCluster,
      }),
    );
    // ListTasks and DescribeTaskDefinition support no resource-level permissions.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: this.onCluster }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }),
    );
    this.acknowledge(
      grantee,
      this.taskArns,
      'ecs:DescribeTasks/StopTask on tasks of the sandbox cluster only (ecs:cluster condition); task ids are not known in advance.',
    );
    this.acknowledge(
      grantee,
      '*',
      'Only ecs:ListTasks (limited to the sandbox cluster by the ecs:cluster condition), ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition (limited by the lap:environment request tag) use "*": none supports resource-level permissions.',
    );
  }

  grantReadLogs(grantee: iam.IGrantable): void {
    this.sandboxes.logGroup.grant(
      grantee,
      'logs:GetLogEvents',
      'logs:FilterLogEvents',
      'logs:DescribeLogStreams',
    );
  }

  private acknowledge(grantee: iam.IGrantable, arn: string, reason: string): void {
    const principal = grantee.grantPrincipal;
    if (principal instanceof iam.Role) acknowledgeWildcardResource(principal, arn, reason);
  }

  grantStop(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:StopTask'],
        resources: [this.taskArns],
        conditions: this.onCluster,
      }),
    );
  }

  grantLaunch(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RunTask'],
        resources: [this.sandboxes.taskDefinitionArnPattern()],
        conditions: this.onCluster,
      }),
    );
    this.acknowledge(
      grantee,
      this.sandboxes.taskDefinitionArnPattern(),
      'RunTask/TagResource only for the sandbox task definition families of this environment (templates and their -pin-<hash> families), any revision.',
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [this.taskArns, this.sandboxes.taskDefinitionArnPattern()],
        conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
      }),
    );
    // RegisterTaskDefinition has no resource-level permissions; the request tag pins it to this environment.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RegisterTaskDefinition'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:RequestTag/lap:environment': this.envName } },
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.sandboxes.executionRole.roleArn, this.sandboxes.taskRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }
}
