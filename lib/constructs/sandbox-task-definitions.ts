import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Validations } from 'aws-cdk-lib';
import {
  SANDBOX_CONTAINERS,
  VAULT_PROXY_PORT,
  type HarnessLaunchEnvironment,
  type HarnessTaskEnvironment,
  type VaultTaskEnvironment,
  type VaultTaskSecrets,
} from '@lap/sandbox-protocol';
import { Construct } from 'constructs';
import type { DeploymentConfig, HarnessName } from '../config';
import type { ContainerImages } from './container-images';
import { runtimePlatformFor } from './fargate-platform';
import { PORTS } from './security-perimeter';
import { acknowledgeWildcardResource } from './wildcard-acknowledgement';

export interface SandboxTaskDefinitionsProps {
  envName: string;
  sandbox: DeploymentConfig['sandbox'];
  architecture: DeploymentConfig['platform']['architecture'];
  images: ContainerImages;
  gatewayKey: secretsmanager.ISecret;
  vaultCaCertificate: secretsmanager.ISecret;
  vaultCaPrivateKey: secretsmanager.ISecret;
  /** The LiteLLM gateway URL; the vault injects the gateway key for its host only. */
  litellmApiBase: string;
  /** Private repositories: the git token secret (vault only) and the hosts the vault may send it to. */
  git: DeploymentConfig['git'];
  /** Host the sandboxes call back (internal DNS name of the worker): bypasses the vault proxy. */
  callbackHost: string;
  /** `host:port` of the egress gateway (`sandbox.egress` "enforced"): the vault dials every upstream through it. */
  egressGatewayEndpoint?: string;
  /** The deployment's own ranges (the VPC): the vault refuses them besides link-local and metadata. */
  internalCidrs: string[];
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/** The task volume carrying the stub env file from the vault to the harness. */
const SHARED_VOLUME = 'vault-env';
const SHARED_PATH = '/lap/shared';

/**
 * The vault is ready when it has published the deployment CA on the shared volume and its proxy
 * accepts connections (it writes the CA, starts the relay, then the admin listener: a connection
 * to both ports proves all three). Node reads NODE_EXTRA_CA_CERTS once, at start, so the harness
 * container starts only once this passes (dependsOn HEALTHY). The vault reaches this state from
 * its own environment, before any secret push: a warm sandbox waiting for its secrets stays healthy.
 */
const VAULT_READY_PROBE = [
  "const fs=require('node:fs'),net=require('node:net');",
  'fs.accessSync(process.env.VAULT_CA_CERT_OUT,fs.constants.R_OK);',
  'const connect=(port)=>new Promise((ok,fail)=>{const s=net.connect(Number(port),"127.0.0.1");',
  's.on("connect",()=>{s.destroy();ok()});s.on("error",fail)});',
  'Promise.all([connect(process.env.VAULT_PORT),connect(process.env.VAULT_ADMIN_PORT)])',
  '.then(()=>process.exit(0),()=>process.exit(1));',
].join('');

/**
 * The harness listens only once its boot is done (secrets, clone, requirements), which for a warm
 * sandbox can take as long as the pool keeps it: until then there is nothing to probe but the
 * process, which ECS already watches (essential container), so a refused connection counts as
 * healthy. Once it listens, the check fails on what a running harness reports as broken (its agent
 * died: 503) or on a server that no longer answers (timeout).
 */
const HARNESS_PROBE = [
  "fetch('http://127.0.0.1:'+process.env.PORT+'/health',{signal:AbortSignal.timeout(4000)})",
  '.then((r)=>process.exit(r.ok?0:1),(e)=>process.exit(e&&e.cause&&e.cause.code==="ECONNREFUSED"?0:1));',
].join('');

/**
 * One task definition template per harness: the harness container and the vault sidecar.
 *
 * The task role has no permissions at all (every container of a task can read the task-role
 * credentials, so the agent could too). The execution role pulls the images, writes the logs and
 * reads exactly the gateway key, the vault CA (certificate and key) and, when configured, the git
 * token, which reach only the vault container through ECS `secrets`; the harness container gets
 * no secret (it trusts the CA through the file the vault publishes on the shared volume). Each
 * container's environment is written to its schema in @lap/sandbox-protocol (containers.ts).
 */
export class SandboxTaskDefinitions extends Construct {
  readonly taskRole: iam.Role;
  readonly executionRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly families: Record<string, string> = {};
  readonly taskDefinitions: ecs.FargateTaskDefinition[] = [];
  /** Family prefix of every template and pinned family (`<prefix><harness>[-pin-<hash>]`). */
  readonly familyPrefix: string;

  constructor(scope: Construct, id: string, props: SandboxTaskDefinitionsProps) {
    super(scope, id);
    this.familyPrefix = `lap-${props.envName}-sandbox-`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'LAP sandbox task role: deliberately without any permission',
    });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'LAP sandbox execution role: pull images, write logs, read the gateway key and vault CA',
    });

    const gatewayKey = ecs.Secret.fromSecretsManager(props.gatewayKey);
    const caCert = ecs.Secret.fromSecretsManager(props.vaultCaCertificate);
    const caKey = ecs.Secret.fromSecretsManager(props.vaultCaPrivateKey);
    // The vault swaps the real token in for the harness's stub GIT_TOKEN on requests to these hosts only.
    const { tokenSecretArn, hosts: gitHosts } = props.git;
    const gitTokenSecret: Partial<VaultTaskSecrets<ecs.Secret>> = tokenSecretArn
      ? {
          REAL_GIT_TOKEN: ecs.Secret.fromSecretsManager(
            secretsmanager.Secret.fromSecretCompleteArn(this, 'GitToken', tokenSecretArn),
          ),
        }
      : {};
    const gitTokenHosts: Partial<VaultTaskEnvironment> = tokenSecretArn
      ? { HOST_GIT_TOKEN: gitHosts.join(',') }
      : {};
    const runtimePlatform = runtimePlatformFor(props.architecture);
    const vaultEnvFile = `${SHARED_PATH}/vault.env`;
    const proxy = `http://127.0.0.1:${VAULT_PROXY_PORT}`;
    const noProxy = `127.0.0.1,localhost,${props.callbackHost}`;
    const caFile = `${SHARED_PATH}/vault-ca.pem`;

    for (const harness of props.sandbox.harnesses) {
      const family = `${this.familyPrefix}${harness}`;
      const taskDefinition = new ecs.FargateTaskDefinition(this, `TaskDefinition-${harness}`, {
        family,
        cpu: props.sandbox.cpu,
        memoryLimitMiB: props.sandbox.memoryMiB,
        ephemeralStorageGiB: props.sandbox.ephemeralStorageGiB,
        runtimePlatform,
        taskRole: this.taskRole,
        executionRole: this.executionRole,
        volumes: [{ name: SHARED_VOLUME }],
      });
      const vault = taskDefinition.addContainer(SANDBOX_CONTAINERS.vault, {
        image: props.images.vault,
        essential: true,
        logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: harness }),
        portMappings: [{ containerPort: PORTS.vaultAdmin, name: 'vault-admin' }],
        // Every 5 s (the shortest ECS allows): the harness waits for the first pass.
        healthCheck: {
          command: ['CMD', 'node', '-e', VAULT_READY_PROBE],
          interval: Duration.seconds(5),
          timeout: Duration.seconds(3),
          retries: 3,
          startPeriod: Duration.seconds(10),
        },
        environment: {
          VAULT_PORT: `${VAULT_PROXY_PORT}`,
          VAULT_ADMIN_PORT: `${PORTS.vaultAdmin}`,
          VAULT_ENV_FILE: vaultEnvFile,
          HOST_LITELLM_API_KEY: new URL(props.litellmApiBase).hostname,
          // Where the vault publishes the CA certificate for the harness (NODE_EXTRA_CA_CERTS).
          VAULT_CA_CERT_OUT: caFile,
          ...gitTokenHosts,
          EGRESS_INTERNAL_CIDRS: props.internalCidrs.join(','),
          ...(props.egressGatewayEndpoint ? { VAULT_EGRESS_GATEWAY: props.egressGatewayEndpoint } : {}),
        } satisfies VaultTaskEnvironment,
        secrets: {
          REAL_LITELLM_API_KEY: gatewayKey,
          VAULT_CA_CERT: caCert,
          VAULT_CA_KEY: caKey,
          ...gitTokenSecret,
        } satisfies VaultTaskSecrets<ecs.Secret>,
      });
      vault.addMountPoints({ sourceVolume: SHARED_VOLUME, containerPath: SHARED_PATH, readOnly: false });

      const harnessContainer = taskDefinition.addContainer(SANDBOX_CONTAINERS.harness, {
        image: props.images.harness(harness as HarnessName),
        essential: true,
        logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: harness }),
        portMappings: [{ containerPort: PORTS.harness, name: 'harness' }],
        // An init process as PID 1 (ECS's, like `docker run --init`): the harness runs each
        // agent program in a process group and kills the group, and what the program spawned
        // is then re-parented to PID 1, which only an init reaps (Node as PID 1 leaves zombies).
        linuxParameters: new ecs.LinuxParameters(this, `HarnessLinuxParameters-${harness}`, {
          initProcessEnabled: true,
        }),
        healthCheck: {
          command: ['CMD', 'node', '-e', HARNESS_PROBE],
          interval: Duration.seconds(30),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(60),
        },
        // The launcher adds the sandbox's id and tokens (HARNESS_LAUNCH_ENV), the image HOME.
        environment: {
          HARNESS_ID: harness,
          PORT: `${PORTS.harness}`,
          VAULT_ENV_FILE: vaultEnvFile,
          HTTPS_PROXY: proxy,
          HTTP_PROXY: proxy,
          https_proxy: proxy,
          http_proxy: proxy,
          NO_PROXY: noProxy,
          no_proxy: noProxy,
          NODE_EXTRA_CA_CERTS: caFile,
        } satisfies HarnessTaskEnvironment & Pick<HarnessLaunchEnvironment, 'HARNESS_ID' | 'PORT'>,
      });
      harnessContainer.addMountPoints({
        sourceVolume: SHARED_VOLUME,
        containerPath: SHARED_PATH,
        readOnly: true,
      });
      harnessContainer.addContainerDependencies({
        container: vault,
        condition: ecs.ContainerDependencyCondition.HEALTHY,
      });

      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason:
          'The environment holds only non-secret settings (ports, file paths, proxy address, gateway host); secret values come from Secrets Manager through ECS secrets.',
      });
      this.families[harness] = family;
      this.taskDefinitions.push(taskDefinition);
    }

    acknowledgeWildcardResource(
      this.executionRole,
      '*',
      'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); every other statement of this role names its repositories, log group and secrets (gateway key, vault CA, git token if configured).',
    );
  }

  /** ARNs matching every template family and its pinned families (`-pin-<hash>`), any revision. */
  taskDefinitionArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'ecs',
      resource: 'task-definition',
      resourceName: `${this.familyPrefix}*`,
    });
  }
}
