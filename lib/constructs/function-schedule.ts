import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

export interface FunctionScheduleProps {
  target: lambda.IFunction;
  every: Duration;
  description: string;
}

/**
 * Invokes a function on a fixed rate with EventBridge Scheduler. No retries: the next tick is
 * the retry (the handlers are idempotent reconcilers), so a failing run never piles up.
 */
export class FunctionSchedule extends Construct {
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: FunctionScheduleProps) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: `Invokes ${props.target.node.path} on its schedule`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(props.every),
      description: props.description,
      target: new targets.LambdaInvoke(props.target, { role, retryAttempts: 0, maxEventAge: props.every }),
    });
    acknowledgeWildcardResource(
      role,
      `${props.target.functionArn}:*`,
      'The scheduler may invoke any version of this one function, and nothing else.',
    );
  }
}
