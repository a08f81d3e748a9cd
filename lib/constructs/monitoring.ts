import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SANDBOX_LAUNCH_REFUSED_MESSAGE } from '../../platform/src/sandbox/ecs/log-messages';

export interface MonitoringProps {
  envName: string;
  alarmEmail?: string;
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  /** The service behind the load balancer and the one running the worker (the same one when combined). */
  api: ecs.FargateService;
  worker: ecs.FargateService;
  /** The egress gateway (`sandbox.egress` "enforced"). */
  egressGateway?: ecs.FargateService;
  functions: Record<string, lambda.IFunction>;
  /** Log groups of the processes that call RunTask: a metric filter counts refused launches. */
  launcherLogGroups: logs.ILogGroup[];
  taskEventsDeadLetterQueue: sqs.IQueue;
  database: { cpu: () => cloudwatch.Metric; connections: () => cloudwatch.Metric; maxConnections: number };
  /** The CloudWatch dashboard ($3/month). */
  dashboard: boolean;
}

/**
 * Alarms to one SNS topic (optionally mailed) and an optional dashboard: API errors and health,
 * the worker (and the egress gateway) being down, Lambda errors, refused sandbox launches,
 * dropped task events, database CPU and connections. Every metric is one AWS publishes for free
 * (no Container Insights needed).
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard?: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const namespace = `LAP/${props.envName}`;
    this.topic = new sns.Topic(this, 'Alarms', {
      displayName: `LAP ${props.envName} alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry only alarm names and states; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a dedicated key would add cost for no confidentiality gain.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const action = new cwActions.SnsAction(this.topic);
    const alarm = (
      name: string,
      metric: cloudwatch.Metric | cloudwatch.MathExpression,
      options: Omit<cloudwatch.CreateAlarmOptions, 'alarmName'>,
    ) => {
      const created = metric.createAlarm(this, name, {
        alarmName: `lap-${props.envName}-${name}`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    const lb = props.loadBalancer.metrics;
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
    const api5xx = new cloudwatch.MathExpression({
      label: 'API 5xx',
      expression: 'FILL(target, 0) + FILL(elb, 0)',
      usingMetrics: {
        target: lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, fiveMinutes),
        elb: lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, fiveMinutes),
      },
      period: Duration.minutes(5),
    });
    alarm('api-5xx', api5xx, {
      threshold: 10,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    const unhealthy = props.targetGroup.metrics.unhealthyHostCount({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    alarm('api-unhealthy-targets', unhealthy, {
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // Running tasks from the free AWS/ECS namespace: each task reports CPU once a minute.
    const runningTasks = (service: ecs.FargateService) =>
      service.metricCpuUtilization({ period: Duration.minutes(1), statistic: 'SampleCount' });
    // Missing data means no task reported at all: that is the outage.
    const down = (name: string, service: ecs.FargateService) =>
      alarm(name, runningTasks(service), {
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    down('worker-down', props.worker);
    if (props.egressGateway) down('egress-gateway-down', props.egressGateway);

    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}-errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), {
        threshold: 1,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    const runTaskFailures = new cloudwatch.Metric({
      namespace,
      metricName: 'RunTaskFailures',
      period: Duration.minutes(5),
      statistic: 'Sum',
    });
    props.launcherLogGroups.forEach((logGroup, i) => {
      new logs.MetricFilter(this, `RunTaskFailures${i}`, {
        logGroup,
        metricNamespace: namespace,
        metricName: 'RunTaskFailures',
        filterPattern: logs.FilterPattern.stringValue('$.msg', '=', SANDBOX_LAUNCH_REFUSED_MESSAGE),
        metricValue: '1',
      });
    });
    alarm('sandbox-run-task-failures', runTaskFailures, {
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm(
      'task-events-dead-letters',
      props.taskEventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      {
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      },
    );
    alarm('database-cpu', props.database.cpu(), {
      threshold: 80,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('database-connections', props.database.connections(), {
      threshold: props.database.maxConnections,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    if (!props.dashboard) return;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `lap-${props.envName}-${Stack.of(this).region}`.replace(/[^\w-]/g, '-'),
      defaultInterval: Duration.hours(6),
    });
    const services = [
      ...new Set([props.api, props.worker, ...(props.egressGateway ? [props.egressGateway] : [])]),
    ];
    const fnMetrics = Object.values(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests',
        left: [lb.requestCount({ period: Duration.minutes(1) })],
        right: [api5xx],
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (p50, p99)',
        left: [lb.targetResponseTime({ statistic: 'p50' }), lb.targetResponseTime({ statistic: 'p99' })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Running tasks',
        left: services.map(runningTasks),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Service CPU %',
        left: services.map((service) => service.metricCpuUtilization()),
      }),
      new cloudwatch.GraphWidget({
        title: 'Service memory %',
        left: services.map((service) => service.metricMemoryUtilization()),
      }),
      new cloudwatch.GraphWidget({ title: 'Sandbox RunTask failures', left: [runTaskFailures] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda invocations',
        left: fnMetrics.map((fn) => fn.metricInvocations()),
      }),
      new cloudwatch.GraphWidget({ title: 'Lambda errors', left: fnMetrics.map((fn) => fn.metricErrors()) }),
      new cloudwatch.GraphWidget({
        title: 'Database',
        left: [props.database.cpu()],
        right: [props.database.connections()],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }
}
