/**
 * The log lines the deployment counts: each metric filter of the templates must match the line
 * the program actually writes, as the worker writes it (the platform's pino logger, the launcher
 * wired as platform/src/main.ts wires it). A reworded message or a renamed field fails here.
 */
import { Writable } from 'node:stream';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import pino from 'pino';
import { EcsSandboxLauncher } from '../../platform/src/sandbox/ecs/ecs-sandbox-launcher';
import { parseEcsSandboxSettings } from '../../platform/src/sandbox/ecs/settings';
import { synthesize } from './support/synth';

/** A filter pattern of the form CloudWatch writes for `FilterPattern.stringValue`: `{ $.field = "value" }`. */
function matches(pattern: string, line: Record<string, unknown>): boolean {
  const [, field, value] = /^\{ \$\.(\w+) = "(.*)" \}$/.exec(pattern) ?? [];
  if (!field) throw new Error(`a filter pattern this test cannot read: ${pattern}`);
  return line[field] === value;
}

test('the RunTask failure metric counts the line the worker logs when ECS refuses a launch', async () => {
  const { template } = synthesize('prod', undefined, { nag: false });
  const patterns = Object.values(template.findResources('AWS::Logs::MetricFilter'))
    .filter((filter) => filter.Properties.MetricTransformations[0].MetricName === 'RunTaskFailures')
    .map((filter) => filter.Properties.FilterPattern as string);
  expect(patterns.length).toBeGreaterThan(0);

  const ecs = mockClient(ECSClient);
  ecs
    .on(RunTaskCommand)
    .resolves({ tasks: [], failures: [{ reason: 'Capacity is unavailable at this time' }] });
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const launcher = new EcsSandboxLauncher({
    ecs: new ECSClient({ region: 'eu-west-1' }),
    logs: new CloudWatchLogsClient({ region: 'eu-west-1' }),
    settings: parseEcsSandboxSettings({
      SANDBOX_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:123456789012:cluster/lap',
      SANDBOX_SUBNET_IDS: 'subnet-0a1',
      SANDBOX_SECURITY_GROUP_ID: 'sg-0c3',
      SANDBOX_TASK_DEFINITIONS: '{"opencode":"lap-prod-sandbox-opencode"}',
      SANDBOX_CAPACITY: 'on-demand',
      SANDBOX_ENVIRONMENT: 'prod',
    }),
    log: (msg, fields) => logger.info(fields, msg),
  });
  await expect(
    launcher.launch({
      sandboxId: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
      kind: 'session',
      agentId: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
      harnessId: 'opencode',
      harnessImage: null,
      harnessEnv: {},
      vaultEnv: {},
    }),
  ).rejects.toThrow();
  ecs.restore();

  expect(lines.length).toBeGreaterThan(0);
  for (const pattern of patterns)
    expect({ pattern, counted: lines.filter((line) => matches(pattern, line)).length }).toEqual({
      pattern,
      counted: 1,
    });
});
