/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation templates are untyped JSON; the assertions check their shape. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { resolveConfig } from '../../lib/config';
import { createEnvironment } from '../../lib/create-environment';
import {
  assetHashSerializer,
  configWith,
  readConfigFile,
  snapshotTemplate,
  synthesize,
  type Synthesized,
} from './support/synth';

expect.addSnapshotSerializer(assetHashSerializer);

type Resources = Record<
  string,
  {
    Type: string;
    Properties?: Record<string, any>;
    DeletionPolicy?: string;
    UpdateReplacePolicy?: string;
    DependsOn?: string[];
  }
>;

function resources(template: Template, type?: string): Resources {
  const all = template.toJSON().Resources as Resources;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => !type || r.Type === type));
}

/** Logical id of the only resource of `type` whose properties match `predicate`. */
function logicalId(
  template: Template,
  type: string,
  predicate: (props: Record<string, any>) => boolean,
): string {
  const ids = Object.entries(resources(template, type))
    .filter(([, r]) => predicate(r.Properties ?? {}))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** The logical id an Fn::ImportValue / Fn::GetAtt / Ref points at, as a readable string. */
function refName(value: unknown): string {
  return JSON.stringify(value);
}

/** Logical id of the only security group whose description matches. */
function securityGroup(template: Template, description: RegExp): string {
  return logicalId(template, 'AWS::EC2::SecurityGroup', (p) => description.test(p.GroupDescription));
}

/** Every secret the sandbox execution role may read (resources of its secretsmanager statements). */
function sandboxExecutionRoleSecrets(platform: Template): string[] {
  const roleId = logicalId(platform, 'AWS::IAM::Role', (p) =>
    /sandbox execution role/.test(p.Description ?? ''),
  );
  return Object.values(resources(platform, 'AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties!.Roles).includes(roleId))
    .flatMap(
      (p) =>
        p.Properties!.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    )
    .filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')))
    .flatMap((s) => [s.Resource].flat())
    .map(refName);
}

interface ContainerDefinition {
  Name: string;
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
  LinuxParameters?: { InitProcessEnabled?: boolean };
}

/** The container definitions of every sandbox task definition template. */
function sandboxContainers(platform: Template): ContainerDefinition[][] {
  return Object.values(resources(platform, 'AWS::ECS::TaskDefinition'))
    .filter((t) => String(t.Properties!.Family).includes('-sandbox-'))
    .map((t) => t.Properties!.ContainerDefinitions as ContainerDefinition[]);
}

const envs: Record<string, Synthesized> = {};
beforeAll(() => {
  envs.dev = synthesize('dev');
  envs.prod = synthesize('prod');
});

describe.each(['dev', 'prod'])('%s templates', (envName) => {
  it('match the snapshot', () => {
    expect(snapshotTemplate(envs[envName]!.template.toJSON())).toMatchSnapshot();
  });

  it('are one stack named after the environment, termination-protected in production', () => {
    expect(envs[envName]!.stack.stackName).toBe(`lap-${envName}`);
    expect(envs[envName]!.stack.terminationProtection).toBe(envName === 'prod');
  });

  it('gives the sandbox task role no permissions at all', () => {
    const { template: platform } = envs[envName]!;
    const roleId = logicalId(platform, 'AWS::IAM::Role', (p) =>
      /sandbox task role/.test(p.Description ?? ''),
    );
    const role = resources(platform)[roleId]!.Properties!;
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
    const attached = Object.values(resources(platform, 'AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties!.Roles).includes(roleId),
    );
    expect(attached).toEqual([]);
    // Every sandbox task definition uses it.
    const taskDefs = Object.values(resources(platform, 'AWS::ECS::TaskDefinition')).filter((t) =>
      String(t.Properties!.Family).startsWith(`lap-${envName}-sandbox-`),
    );
    expect(taskDefs).toHaveLength(4);
    for (const t of taskDefs) expect(JSON.stringify(t.Properties!.TaskRoleArn)).toContain(roleId);
  });

  it('lets the sandbox execution role read exactly the gateway key and the vault CA', () => {
    const secretResources = sandboxExecutionRoleSecrets(envs[envName]!.template);
    expect(secretResources).toHaveLength(3);
    expect(secretResources.join()).toMatch(/GatewayKey/);
    expect(secretResources.join()).toMatch(/VaultCACertificate/);
    expect(secretResources.join()).toMatch(/VaultCAPrivateKey/);
  });

  it('gives the CA key and the gateway key to the vault container only, and the harness no secret', () => {
    const { template } = envs[envName]!;
    for (const containers of sandboxContainers(template)) {
      const secretNames = (name: string) =>
        (containers.find((c) => c.Name === name)!.Secrets ?? []).map((s) => s.Name).sort();
      expect(secretNames('vault')).toEqual(['REAL_LITELLM_API_KEY', 'VAULT_CA_CERT', 'VAULT_CA_KEY']);
      expect(secretNames('harness')).toEqual([]);
    }
  });

  it('runs each harness under an init process that reaps what its agent programs leave', () => {
    for (const containers of sandboxContainers(envs[envName]!.template)) {
      const harness = containers.find((c) => c.Name === 'harness')!;
      expect(harness.LinuxParameters?.InitProcessEnabled).toBe(true);
    }
  });

  it('admits only the web, worker and function security groups to the database', () => {
    const { template } = envs[envName]!;
    const dbSg = securityGroup(template, /LAP database/);
    expect(resources(template)[dbSg]!.Properties!.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(resources(template, 'AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties!)
      .filter((p) => refName(p.GroupId).includes(dbSg));
    expect(ingress.map((p) => [p.FromPort, p.ToPort, refName(p.SourceSecurityGroupId)]).sort()).toEqual(
      [/LAP Lambda functions/, /LAP web service/, /LAP worker service/]
        .map((d) => [5432, 5432, refName({ 'Fn::GetAtt': [securityGroup(template, d), 'GroupId'] })])
        .sort(),
    );
    // The database itself sits behind that group only.
    const cluster = Object.values(resources(template, 'AWS::RDS::DBCluster'))[0]!.Properties!;
    expect(cluster.VpcSecurityGroupIds).toHaveLength(1);
    expect(refName(cluster.VpcSecurityGroupIds[0])).toContain(dbSg);
  });

  it('opens the sandbox to the web service on the harness port and to the worker on harness and vault admin', () => {
    const { template } = envs[envName]!;
    const sandboxSg = securityGroup(template, /LAP sandbox tasks/);
    expect(resources(template)[sandboxSg]!.Properties!.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(resources(template, 'AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties!)
      .filter((p) => refName(p.GroupId).includes(sandboxSg));
    const web = refName({ 'Fn::GetAtt': [securityGroup(template, /LAP web service/), 'GroupId'] });
    const worker = refName({ 'Fn::GetAtt': [securityGroup(template, /LAP worker service/), 'GroupId'] });
    expect(ingress.map((p) => [p.FromPort, refName(p.SourceSecurityGroupId)]).sort()).toEqual(
      [
        [4096, web],
        [4096, worker],
        [14323, worker],
      ].sort(),
    );
  });

  it('lets the load balancer reach only the public port of the web service', () => {
    const { template } = envs[envName]!;
    const albSg = securityGroup(template, /^LAP API load balancer$/);
    const props = resources(template)[albSg]!.Properties!;
    const port = envName === 'prod' ? 443 : 80;
    expect(
      (props.SecurityGroupIngress as Array<Record<string, any>>).map((i) => [i.CidrIp, i.FromPort]),
    ).toEqual([['0.0.0.0/0', port]]);
    const albEgress = Object.values(resources(template, 'AWS::EC2::SecurityGroupEgress'))
      .map((r) => r.Properties!)
      .filter((p) => refName(p.GroupId).includes(albSg));
    // Only port 3000 (to each group of the service behind it: both when web and worker share a task).
    expect([...new Set(albEgress.map((p) => `${p.FromPort}-${p.ToPort}`))]).toEqual(['3000-3000']);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: port,
      Protocol: port === 443 ? 'HTTPS' : 'HTTP',
    });
    // The one target group serves port 3000: the internal port 3001 is never behind the ALB.
    expect(
      Object.values(resources(template, 'AWS::ElasticLoadBalancingV2::TargetGroup')).map(
        (t) => t.Properties!.Port,
      ),
    ).toEqual([3000]);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'idle_timeout.timeout_seconds', Value: '3600' }]),
    });
  });

  it('puts no secret value in any template', () => {
    const { json } = envs[envName]!;
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/-----BEGIN/);
    for (const [id, resource] of Object.entries(json.Resources)) {
      if (resource.Type === 'AWS::SecretsManager::Secret') {
        expect([id, resource.Properties?.SecretString]).toEqual([id, undefined]);
      }
      if (resource.Type === 'AWS::SSM::Parameter') throw new Error(`unexpected SSM parameter ${id}`);
    }
    // Plain environment variables (containers and Lambdas) never carry a secret-looking name.
    const secretName = /(KEY|PASSWORD|TOKEN|SECRET|CERT)$/;
    const allowed = /(_ARN|_ID|_FILE|_CERTS)$|^HOST_/;
    const names: string[] = [];
    const { template: platform } = envs[envName]!;
    for (const t of Object.values(resources(platform, 'AWS::ECS::TaskDefinition'))) {
      for (const c of t.Properties!.ContainerDefinitions as Array<{ Environment?: Array<{ Name: string }> }>)
        names.push(...(c.Environment ?? []).map((e) => e.Name));
    }
    for (const f of Object.values(resources(platform, 'AWS::Lambda::Function')))
      names.push(...Object.keys(f.Properties!.Environment?.Variables ?? {}));
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((n) => secretName.test(n) && !allowed.test(n))).toEqual([]);
  });

  it('gives the services the platform environment contract, secrets through ECS secrets', () => {
    const { template: platform, config } = envs[envName]!;
    const services = Object.values(resources(platform, 'AWS::ECS::TaskDefinition')).filter((t) =>
      (t.Properties!.ContainerDefinitions as Array<{ Name: string }>).some((c) => c.Name === 'platform'),
    );
    // dev: one combined service (PLATFORM_ROLE=all); prod: web and worker.
    expect(services).toHaveLength(config.platform.services === 'combined' ? 1 : 2);
    for (const t of services) {
      const container = (t.Properties!.ContainerDefinitions as Array<Record<string, any>>)[0]!;
      const env = Object.fromEntries(
        (container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]),
      );
      for (const key of [
        'PLATFORM_ROLE',
        'PORT',
        'DB_HOST',
        'DB_PORT',
        'DB_NAME',
        'DB_USER',
        'DB_SSL',
        'SECRET_STORE',
        'KMS_KEY_ARN',
        'SANDBOX_LAUNCHER',
        'LITELLM_API_BASE',
        'CALLBACK_URL',
        'INTERNAL_PORT',
        'JOB_POLL_IDLE_MAX_MS',
        'BASE_URL',
        'WARM_POOL_SIZE',
        'WARM_POOL_RECENT_AGENT_HOURS',
        'WARM_POOL_MAX_PROVISIONING',
        'WARM_POOL_TTL_MINUTES',
        'SESSION_CREATING_TIMEOUT_MS',
        'LOG_LEVEL',
        'SANDBOX_CLUSTER_ARN',
        'SANDBOX_SUBNET_IDS',
        'SANDBOX_SECURITY_GROUP_ID',
        'SANDBOX_TASK_DEFINITIONS',
        'SANDBOX_CAPACITY',
        'SANDBOX_ENVIRONMENT',
        'SANDBOX_LOG_GROUP',
        'SANDBOX_EXECUTION_ROLE_ARN',
        'SANDBOX_TASK_ROLE_ARN',
      ]) {
        expect([key, env[key]]).toEqual([key, expect.anything()]);
      }
      expect(env).toMatchObject({
        DB_SSL: 'require',
        // The password comes from the rotating RDS secret at run time, never from the environment.
        DB_SECRET_ARN: expect.anything(),
        SECRET_STORE: 'kms',
        SANDBOX_LAUNCHER: 'ecs',
        SANDBOX_ENVIRONMENT: envName,
        INTERNAL_PORT: '3001',
        CALLBACK_URL: `http://worker.lap-${envName}.internal:3001`,
        WORKER_INTERNAL_URL: `http://worker.lap-${envName}.internal:3001`,
        PORT: '3000',
        JOB_POLL_IDLE_MAX_MS: String(config.platform.jobPollIdleMaxMs),
      });
      expect(JSON.parse(env.SANDBOX_TASK_DEFINITIONS as string)).toEqual({
        opencode: `lap-${envName}-sandbox-opencode`,
        'claude-agent-sdk': `lap-${envName}-sandbox-claude-agent-sdk`,
        'claude-code': `lap-${envName}-sandbox-claude-code`,
        codex: `lap-${envName}-sandbox-codex`,
      });
      // The egress token key only where the worker runs, and only with the egress gateway.
      const worker = env.PLATFORM_ROLE !== 'web' && config.sandbox.egress === 'enforced';
      expect((container.Secrets as Array<{ Name: string }>).map((s) => s.Name).sort()).toEqual([
        ...(worker ? ['EGRESS_TOKEN_KEY'] : []),
        'HARNESS_TOKEN_SIGNING_KEY',
        'MASTER_KEY',
        'VAULT_CA_CERT',
      ]);
      expect(container.HealthCheck.Command.join(' ')).toContain('/healthz');
    }
  });

  it('lets only the web and worker task roles use the agent secrets key', () => {
    const { template } = envs[envName]!;
    const users = Object.values(resources(template, 'AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties!.PolicyDocument).includes('kms:'))
      .map((p) => JSON.stringify(p.Properties!.Roles));
    expect(users).toHaveLength(2);
    expect(users.join()).toMatch(/WebTaskRole/);
    expect(users.join()).toMatch(/WorkerTaskRole/);
  });

  it('migrates the database before the services and functions roll', () => {
    const { template: platform } = envs[envName]!;
    const triggerId = Object.keys(resources(platform, 'Custom::Trigger'))[0]!;
    expect(triggerId).toBeDefined();
    const dependents = Object.entries(resources(platform)).filter(([, r]) =>
      (r.DependsOn ?? []).some((d) => d.startsWith(triggerId)),
    );
    const types = dependents.map(([, r]) => r.Type);
    expect(types.filter((t) => t === 'AWS::ECS::Service')).toHaveLength(envName === 'dev' ? 1 : 2);
    expect(types.filter((t) => t === 'AWS::Lambda::Function').length).toBeGreaterThanOrEqual(3);
  });

  it('alarms on API errors, unhealthy targets, worker down, Lambda errors, refused launches, dead letters and the database', () => {
    const { template: platform } = envs[envName]!;
    const names = Object.values(resources(platform, 'AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties!.AlarmName as string,
    );
    expect(names.sort()).toEqual(
      [
        'api-5xx',
        'api-unhealthy-targets',
        'worker-down',
        ...(envName === 'prod' ? ['egress-gateway-down'] : []),
        'warm-pool-errors',
        'idle-reaper-errors',
        'task-events-errors',
        'migrate-errors',
        'sandbox-run-task-failures',
        'task-events-dead-letters',
        'database-cpu',
        'database-connections',
      ]
        .map((n) => `lap-${envName}-${n}`)
        .sort(),
    );
    for (const alarm of Object.values(resources(platform, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties!.AlarmActions).toHaveLength(1);
    }
    platform.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.msg = "sandbox launch refused" }',
    });
    // The dashboard costs $3/month: production only by default.
    platform.resourceCountIs('AWS::CloudWatch::Dashboard', envName === 'prod' ? 1 : 0);
    // worker-down needs no Container Insights: the free AWS/ECS CPU samples count running tasks.
    platform.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `lap-${envName}-worker-down`,
      Namespace: 'AWS/ECS',
      Statistic: 'SampleCount',
      TreatMissingData: 'breaching',
    });
    if (envName === 'prod')
      platform.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'platform-oncall@example.com',
      });
  });

  it('sets a retention on every log group, and keeps them when a production stack is deleted', () => {
    const groups = Object.entries(resources(envs[envName]!.template, 'AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThan(8);
    for (const [id, group] of groups) {
      expect([id, group.Properties!.RetentionInDays]).toEqual([id, envName === 'prod' ? 365 : 30]);
      // RetainExceptOnCreate: kept on deletion, removed when a failed first create rolls back.
      expect([id, group.DeletionPolicy]).toEqual([
        id,
        envName === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
      ]);
    }
  });

  it('outputs the API URL, the MASTER_KEY secret and ready-to-paste commands', () => {
    const outputs = envs[envName]!.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'MasterKeySecretArn',
        'GetMasterKeyCommand',
        'SetGatewayKeyCommand',
        'TailLogsCommand',
        'TailSandboxLogsCommand',
      ]),
    );
    expect(JSON.stringify(outputs.GetMasterKeyCommand!.Value)).toMatch(
      /aws secretsmanager get-secret-value --region/,
    );
    expect(JSON.stringify(outputs.TailLogsCommand!.Value)).toMatch(/aws logs tail --region .* --follow/);
    expect(JSON.stringify(outputs.ApiUrl!.Value)).toContain(
      envName === 'prod' ? 'https://lap.example.com' : 'http://',
    );
  });

  it('schedules the warm pool every minute and the reaper every 5 minutes', () => {
    const { template: platform } = envs[envName]!;
    platform.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)' });
    platform.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
    platform.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SCHEDULE_EVERY_MINUTES: '5' }) },
    });
    platform.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'] }),
    });
  });
});

describe('stateful resources', () => {
  it('protects the production database: deletion protection, snapshot on removal, backups', () => {
    const cluster = Object.values(resources(envs.prod!.template, 'AWS::RDS::DBCluster'))[0]!;
    expect(cluster.Properties).toMatchObject({
      DeletionProtection: true,
      BackupRetentionPeriod: 14,
      StorageEncrypted: true,
      ManageMasterUserPassword: true,
    });
    expect(cluster.DeletionPolicy).toBe('Snapshot');
    expect(cluster.UpdateReplacePolicy).toBe('Snapshot');
    expect(Object.keys(resources(envs.prod!.template, 'AWS::RDS::DBInstance'))).toHaveLength(2); // writer + reader
    for (const type of ['AWS::SecretsManager::Secret', 'AWS::KMS::Key']) {
      for (const r of Object.values(resources(envs.prod!.template, type)))
        expect([type, r.DeletionPolicy]).toEqual([type, 'RetainExceptOnCreate']);
    }
    expect(envs.prod!.stack.terminationProtection).toBe(true);
  });

  it('backs the production database up with an AWS Backup plan in a vault of its own', () => {
    const { template } = envs.prod!;
    const rules = Object.values(resources(template, 'AWS::Backup::BackupPlan'))[0]!.Properties!.BackupPlan
      .BackupPlanRule as Array<Record<string, any>>;
    expect(rules.map((r) => [r.RuleName, r.Lifecycle.DeleteAfterDays])).toEqual([
      ['daily', 35],
      ['monthly', 365],
    ]);
    const selection = Object.values(resources(template, 'AWS::Backup::BackupSelection'))[0]!.Properties!;
    expect(JSON.stringify(selection.BackupSelection.Resources)).toContain('DataDatabaseCluster');
    template.resourceCountIs('AWS::Backup::BackupVault', 1);
    envs.dev!.template.resourceCountIs('AWS::Backup::BackupPlan', 0);
  });

  it('keeps development disposable', () => {
    const cluster = Object.values(resources(envs.dev!.template, 'AWS::RDS::DBCluster'))[0]!;
    expect(cluster.Properties).toMatchObject({
      DeletionProtection: false,
      // Pauses 5 minutes after the last connection closes (the platform keeps none when idle).
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 300 },
    });
    expect(cluster.DeletionPolicy).toBe('Delete');
  });

  it('runs a single PostgreSQL 17 instance when asked, with the same protections', () => {
    const input = { ...readConfigFile('prod'), database: { engine: 'instance', instanceType: 't4g.small' } };
    const { template } = synthesize('prod', input);
    const instance = Object.values(resources(template, 'AWS::RDS::DBInstance'))[0]!;
    expect(instance.Properties).toMatchObject({
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.small',
      DeletionProtection: true,
      MultiAZ: true,
      ManageMasterUserPassword: true,
    });
    expect(String(instance.Properties!.EngineVersion)).toMatch(/^17/);
    expect(instance.DeletionPolicy).toBe('Snapshot');
  });
});

describe('variants', () => {
  it('imports an existing VPC by ids, without lookups', () => {
    const input = {
      ...readConfigFile('dev'),
      network: {
        existingVpc: {
          vpcId: 'vpc-0123abcd',
          vpcCidr: '10.20.0.0/16',
          availabilityZones: ['us-east-1a', 'us-east-1b'],
          publicSubnetIds: ['subnet-0a000000000000000', 'subnet-0b000000000000000'],
          privateSubnetIds: ['subnet-1a000000000000000', 'subnet-1b000000000000000'],
          isolatedSubnetIds: ['subnet-2a000000000000000', 'subnet-2b000000000000000'],
        },
      },
    };
    const { template } = synthesize('dev', input);
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123abcd' });
    const web = Object.values(resources(template, 'AWS::ECS::Service'))[0]!;
    expect(web.Properties!.NetworkConfiguration.AwsvpcConfiguration.Subnets).toEqual([
      'subnet-1a000000000000000',
      'subnet-1b000000000000000',
    ]);
    // Advisory egress without sandbox subnets of its own: sandboxes share the private subnets.
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'SANDBOX_SUBNET_IDS', Value: 'subnet-1a000000000000000,subnet-1b000000000000000' },
          ]),
        }),
      ]),
    });
  });

  it('adds HTTPS with a bring-your-own certificate, interface endpoints and WAF, cdk-nag clean', () => {
    const input = configWith('dev', {
      network: { interfaceEndpoints: true },
      edge: {
        certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
        waf: true,
      },
    }) as { edge: { certificateArn: string } };
    const { template } = synthesize('dev', input);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Certificates: [{ CertificateArn: input.edge.certificateArn }],
      SslPolicy: Match.stringLikeRegexp('TLS13'),
    });
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 7); // S3 gateway + 6 interface endpoints
    template.resourceCountIs('AWS::WAFv2::LoggingConfiguration', 0); // development: no WAF logs unless asked
  });

  it('creates an ACM certificate and alias record for a domain in a hosted zone', () => {
    const { template } = synthesize('prod');
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'lap.example.com',
      ValidationMethod: 'DNS',
    });
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'lap.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
    });
  });

  it('gives the vault a configured git token through ECS secrets, bound to its hosts, and lets the execution role read exactly it too', () => {
    const tokenSecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:lap/git-token-AbCdEf';
    const { template } = synthesize('dev', {
      ...readConfigFile('dev'),
      git: { tokenSecretArn, hosts: ['github.com', 'gitlab.example.com'] },
    });
    const secretResources = sandboxExecutionRoleSecrets(template);
    expect(secretResources).toHaveLength(4);
    expect(secretResources.filter((r) => r === refName(tokenSecretArn))).toHaveLength(1);
    expect(secretResources.join()).toMatch(/GatewayKey/);
    expect(secretResources.join()).toMatch(/VaultCACertificate/);
    expect(secretResources.join()).toMatch(/VaultCAPrivateKey/);
    const templatesOfHarnesses = sandboxContainers(template);
    expect(templatesOfHarnesses).toHaveLength(4);
    for (const containers of templatesOfHarnesses) {
      const vault = containers.find((c) => c.Name === 'vault')!;
      const harness = containers.find((c) => c.Name === 'harness')!;
      expect(vault.Secrets).toContainEqual({ Name: 'REAL_GIT_TOKEN', ValueFrom: tokenSecretArn });
      expect(vault.Environment).toContainEqual({
        Name: 'HOST_GIT_TOKEN',
        Value: 'github.com,gitlab.example.com',
      });
      expect((vault.Environment ?? []).map((e) => e.Name)).not.toContain('REAL_GIT_TOKEN');
      // The harness holds only the stub (from the vault's env file), never the token or its reference.
      expect(JSON.stringify(harness)).not.toMatch(/GIT_TOKEN|git-token/);
    }
  });

  it('leaves the git token out entirely when none is configured', () => {
    for (const envName of ['dev', 'prod']) {
      expect(sandboxExecutionRoleSecrets(envs[envName]!.template)).toHaveLength(3);
      expect(JSON.stringify(envs[envName]!.template.toJSON())).not.toMatch(/GIT_TOKEN/);
    }
  });

  it('uses prebuilt images when the config names them', () => {
    const input = {
      ...readConfigFile('dev'),
      images: { platform: 'registry.example.com/lap/platform:1.2.3' },
    };
    const { template } = synthesize('dev', input);
    const images = Object.values(resources(template, 'AWS::ECS::TaskDefinition')).flatMap((t) =>
      (t.Properties!.ContainerDefinitions as Array<{ Image: unknown }>).map((c) => c.Image),
    );
    expect(images.filter((i) => i === 'registry.example.com/lap/platform:1.2.3')).toHaveLength(1);
  });
});

describe('synth warnings for risky choices', () => {
  it('warns about plain HTTP and advisory egress', () => {
    const dev = Annotations.fromStack(envs.dev!.stack);
    dev.hasWarning('*', Match.stringLikeRegexp('plain HTTP'));
    dev.hasWarning('*', Match.stringLikeRegexp('sandbox.egress "advisory".*bypasses its vault'));
  });

  it('warns about no backups, a public database and no deletion protection in production', () => {
    const input = {
      ...readConfigFile('prod'),
      database: {
        engine: 'instance',
        backupRetentionDays: 0,
        publiclyAccessible: true,
        deletionProtection: false,
      },
    };
    const { stack } = synthesize('prod', input);
    const data = Annotations.fromStack(stack);
    data.hasWarning('*', Match.stringLikeRegexp('no automated backups'));
    data.hasWarning('*', Match.stringLikeRegexp('public address'));
    data.hasWarning('*', Match.stringLikeRegexp('deletionProtection false'));
  });

  it('raises none for the production example', () => {
    expect(Annotations.fromStack(envs.prod!.stack).findWarning('*', Match.stringLikeRegexp('.*'))).toEqual(
      [],
    );
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes on every config and variant above, and an unacknowledged finding fails the synth', () => {
    // The synths above ran with the checks on; this proves a new finding would have failed them.
    const app = new App({
      builtinCloudFormationValidation: false,
      outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'lap-nag-')),
      context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true },
    });
    const stack = createEnvironment(app, resolveConfig('dev', readConfigFile('dev')));
    new s3.Bucket(stack, 'UnreviewedBucket');
    const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => app.synth()).toThrow();
    } finally {
      silence.mockRestore();
    }
    const report = fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8');
    expect(report).toMatch(/AwsSolutions-S10/);
    expect(report).toMatch(/UnreviewedBucket/);
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });
});
