/**
 * The environment the CDK app writes for every container and function, read by the program
 * that receives it, with that program's own schema and loader: what a first deploy would start
 * with. For every config in config/ in both egress modes (and a git token on a single database
 * instance), each container definition's `Environment` and `Secrets` (the image's ENV under
 * them, the launcher's per-sandbox overrides on top, as ECS assembles them) and each function's
 * `Variables` must
 *   - parse with the service's schema (a missing key, a wrong value: the message says which),
 *   - hold no key that schema does not know, and no secret as plain environment,
 *   - mean the same in every service that reads the same variable,
 * and, for a config that leaves every optional setting at its default, carry the service's
 * own default for each key the CDK app writes (unless the deployment chooses otherwise on
 * purpose, listed below). The egress gateway is a Go program: its schema is held to the
 * variables and defaults its code reads.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEPLOYMENT_CREDENTIAL_VARIABLE,
  EGRESS_GATEWAY_SECRET_ENV,
  EGRESS_GATEWAY_SERVER_NAME,
  SANDBOX_CONTAINERS,
  VAULT_SECRET_ENV,
  egressGatewayEnvSchema,
  harnessContainerEnvSchema,
  readEnv,
  vaultContainerEnvSchema,
  type HarnessId,
} from '@lap/sandbox-protocol';
import { loadHarnessConfig } from '@lap/harness/src/config';
import { LeafCertificateIssuer, createCertificateAuthority } from '@lap/vault/src/ca';
import { loadVaultConfig } from '@lap/vault/src/config';
import type { z } from 'zod';
import {
  functionEnvSchema,
  idleReaperFunctionEnvSchema,
  migrateFunctionEnvSchema,
  parseLambdaEnv,
  taskEventsFunctionEnvSchema,
  vaultCaFunctionEnvSchema,
  warmPoolFunctionEnvSchema,
} from '../../lambda/shared/settings';
import { vaultCaPropertiesSchema } from '../../lambda/vault-ca';
import { loadConfig } from '../../platform/src/config';
import { PLATFORM_SECRET_ENV, platformEnvSchema } from '../../platform/src/config/platform-env';
import { launchSandbox } from '../../platform/src/sandbox/bring-up';
import { ecsSandboxSettingsSchema } from '../../platform/src/sandbox/ecs/settings';
import type { SandboxLaunchSpec, SandboxLauncher } from '../../platform/src/sandbox/launcher';
import {
  CloudAssembly,
  type ContainerDefinition,
  type PhysicalResolver,
} from '../../tools/rehearse/cloud-assembly';
import { imageEnvironment } from './support/image-env';
import { CONFIG_ENVS, REPO_ROOT, configWith, readConfigFile, synthesize } from './support/synth';

type Env = Record<string, string>;

/** What a deploy stores in each secret the templates hand to a container. */
const ca = createCertificateAuthority('env contracts test CA');
const gatewayCertificate = new LeafCertificateIssuer(ca).certificateFor(EGRESS_GATEWAY_SERVER_NAME);
const SECRET_VALUES: Env = {
  MASTER_KEY: crypto.randomBytes(24).toString('hex'),
  HARNESS_TOKEN_SIGNING_KEY: crypto.randomBytes(32).toString('hex'),
  EGRESS_TOKEN_KEY: crypto.randomBytes(32).toString('hex'),
  VAULT_CA_CERT: ca.certPem,
  VAULT_CA_KEY: ca.keyPem,
  EGRESS_GATEWAY_TLS_CERT: gatewayCertificate.certPem,
  EGRESS_GATEWAY_TLS_KEY: gatewayCertificate.keyPem,
  REAL_LITELLM_API_KEY: 'sk-the-customers-gateway-key',
  REAL_GIT_TOKEN: 'ghp_the-customers-git-token',
};

/**
 * Keys the deployment sets to something else than the service's default on purpose. Any other
 * key the CDK app writes must, with the deployment config at its defaults, carry the service's
 * default: a deployment default and a service default that drift apart fail here.
 */
const DELIBERATE: Record<string, string> = {
  PLATFORM_ROLE: 'each service its role (web, worker; all when combined)',
  SECRET_STORE: 'AWS keeps agent secrets with KMS',
  SANDBOX_LAUNCHER: 'AWS runs sandboxes on ECS',
  JOB_POLL_IDLE_MAX_MS:
    'lib/config.ts picks it by the services shape (a combined service lets the database pause)',
  SANDBOX_CAPACITY: 'production sandboxes run on demand',
  EGRESS_INTERNAL_CIDRS: "the deployment's VPC, which the vault refuses as a destination",
};

/** One program that reads an environment, and how. */
interface Reader {
  name: string;
  /** The variables it knows (beyond them, only REAL_/HOST_ pairs for the vault). */
  schemas: z.ZodObject[];
  /** Names that may come only as ECS secrets (never plain environment). */
  secretNames: (name: string) => boolean;
  /** The program's own loader: throws with its message when it refuses the environment. */
  load: (env: Env) => unknown;
}

const platformReader: Reader = {
  name: 'platform',
  schemas: [platformEnvSchema, ecsSandboxSettingsSchema],
  secretNames: (name) => (PLATFORM_SECRET_ENV as readonly string[]).includes(name),
  load: (env) => loadConfig(env),
};
const harnessReader: Reader = {
  name: 'harness',
  schemas: [harnessContainerEnvSchema],
  secretNames: () => false,
  load: (env) => loadHarnessConfig(env),
};
const vaultReader: Reader = {
  name: 'vault',
  schemas: [vaultContainerEnvSchema],
  secretNames: (name) => (VAULT_SECRET_ENV as readonly string[]).includes(name) || name.startsWith('REAL_'),
  // The relay binary is a file of the image (/app/vault-relay): any existing file stands in for it.
  load: (env) => loadVaultConfig({ ...env, VAULT_RELAY_PATH: process.execPath }),
};
const gatewayReader: Reader = {
  name: 'egress gateway',
  schemas: [egressGatewayEnvSchema],
  secretNames: (name) => (EGRESS_GATEWAY_SECRET_ENV as readonly string[]).includes(name),
  load: (env) => {
    const reading = readEnv(egressGatewayEnvSchema, env);
    if (!reading.ok) throw new Error(JSON.stringify(reading.problems));
    return reading.data;
  },
};
const functionReader = (handler: string, schema: z.ZodObject): Reader => ({
  name: `${handler} function`,
  schemas: [schema],
  secretNames: () => false,
  load: (env) => parseLambdaEnv(schema, env),
});
/** Our functions, by the logical id PlatformFunction / VaultCertificateAuthority give them. */
const FUNCTIONS: Array<[RegExp, Reader]> = [
  [/^PlatformwarmpoolFunction/, functionReader('warm-pool', warmPoolFunctionEnvSchema)],
  [/^PlatformidlereaperFunction/, functionReader('idle-reaper', idleReaperFunctionEnvSchema)],
  [/^PlatformtaskeventsFunction/, functionReader('task-events', taskEventsFunctionEnvSchema)],
  [/^PlatformmigrateFunction/, functionReader('migrate', migrateFunctionEnvSchema)],
  [/^DataVaultCAHandler/, functionReader('vault-ca', vaultCaFunctionEnvSchema)],
];

/** Deterministic stand-ins for what a deploy creates, by resource type and attribute. */
function standIns(region: string, account: string): PhysicalResolver {
  return ({ logicalId, type, attribute }) => {
    const hex = crypto.createHash('sha256').update(logicalId).digest('hex').slice(0, 17);
    switch (`${type}${attribute ? `.${attribute}` : ''}`) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return account;
      case 'AWS::SecretsManager::Secret':
      case 'AWS::RDS::DBCluster.MasterUserSecret.SecretArn':
      case 'AWS::RDS::DBInstance.MasterUserSecret.SecretArn':
        return `arn:aws:secretsmanager:${region}:${account}:secret:${logicalId}-AbCdEf`;
      case 'AWS::RDS::DBCluster.Endpoint.Address':
      case 'AWS::RDS::DBInstance.Endpoint.Address':
        return `${logicalId.toLowerCase()}.${hex}.${region}.rds.amazonaws.com`;
      case 'AWS::RDS::DBCluster.Endpoint.Port':
      case 'AWS::RDS::DBInstance.Endpoint.Port':
        return '5432';
      case 'AWS::KMS::Key.Arn':
        return `arn:aws:kms:${region}:${account}:key/${crypto.randomUUID()}`;
      case 'AWS::EC2::Subnet':
        return `subnet-${hex}`;
      case 'AWS::EC2::SecurityGroup.GroupId':
        return `sg-${hex}`;
      case 'AWS::ECS::Cluster.Arn':
        return `arn:aws:ecs:${region}:${account}:cluster/${logicalId}`;
      case 'AWS::Logs::LogGroup':
        return `/aws/lap/${logicalId}`;
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${account}:role/${logicalId}`;
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer.DNSName':
        return `${logicalId.toLowerCase()}-123456789.${region}.elb.amazonaws.com`;
      default:
        throw new Error(`no stand-in for ${type}${attribute ? `.${attribute}` : ''} (${logicalId}): add one`);
    }
  };
}

/** One environment as its reader receives it. */
interface Delivery {
  where: string;
  reader: Reader;
  /** What the template writes as plain environment (literal values only: tokens resolved to stand-ins). */
  plain: Env;
  /** Names of the template's literal plain values (not tokens). */
  literal: Set<string>;
  /** Secret name -> the secret it is read from. */
  secrets: Env;
  /** Everything the program sees: image ENV, plain, secret values, launcher overrides. */
  seen: Env;
}

/** The harness's and the vault's per-sandbox environment, as the platform's launcher writes it. */
async function launcherOverrides(harnessId: HarnessId, callbackUrl: string): Promise<SandboxLaunchSpec> {
  let spec: SandboxLaunchSpec | undefined;
  const launcher = {
    launch: async (given: SandboxLaunchSpec) => {
      spec = given;
      return { ref: 'arn:aws:ecs:eu-west-1:123456789012:task/lap/0123' };
    },
  } as unknown as SandboxLauncher;
  await launchSandbox(launcher, {
    sandboxId: crypto.randomUUID(),
    kind: 'session',
    agent: { id: crypto.randomUUID(), harness_id: harnessId, harness_image: null },
    signingKey: SECRET_VALUES.HARNESS_TOKEN_SIGNING_KEY!,
    callbackUrl,
  });
  return spec!;
}

/** Every environment a synthesized deployment hands out, read by its reader. */
async function deliveries(envName: string, input: Record<string, unknown>): Promise<Delivery[]> {
  const { config, json, assemblyDirectory, stack } = synthesize(envName, input, { nag: false });
  const assembly = new CloudAssembly(assemblyDirectory);
  const physical = standIns(config.region, config.account ?? '123456789012');
  const resolved = (value: unknown) => assembly.resolve(stack.stackName, value, physical);
  const out: Delivery[] = [];
  const add = (
    where: string,
    reader: Reader,
    entries: Array<[string, unknown]>,
    secrets: Env,
    under: Env = {},
  ) => {
    const plain = Object.fromEntries(entries.map(([name, value]) => [name, resolved(value)]));
    const secretValues = Object.fromEntries(
      Object.keys(secrets).map((name) => {
        const value = SECRET_VALUES[name];
        if (value === undefined)
          throw new Error(`${where}: no stand-in value for the secret ${name}: add one`);
        return [name, value];
      }),
    );
    out.push({
      where,
      reader,
      plain,
      literal: new Set(entries.filter(([, value]) => typeof value === 'string').map(([name]) => name)),
      secrets,
      seen: { ...under, ...plain, ...secretValues },
    });
  };

  const sandboxContainers: Array<{ family: string; container: ContainerDefinition }> = [];
  for (const task of assembly.taskDefinitions(stack.stackName)) {
    for (const container of task.properties.ContainerDefinitions) {
      const where = `${task.family} ${container.Name}`;
      const entries = (container.Environment ?? []).map((e) => [e.Name, e.Value] as [string, unknown]);
      const secrets = Object.fromEntries(
        (container.Secrets ?? []).map((s) => [s.Name, resolved(s.ValueFrom)] as [string, string]),
      );
      if (container.Name === 'platform')
        add(where, platformReader, entries, secrets, imageEnvironment('platform/Dockerfile'));
      else if (container.Name === 'gateway') add(where, gatewayReader, entries, secrets);
      else if (container.Name === SANDBOX_CONTAINERS.harness || container.Name === SANDBOX_CONTAINERS.vault)
        sandboxContainers.push({ family: task.family, container });
      else throw new Error(`${where}: a container no reader is known for: add its reader`);
    }
  }
  // The sandboxes: the launcher (run by the worker, with its CALLBACK_URL) adds the per-sandbox part.
  const worker = out.find((d) => d.reader === platformReader && d.plain.PLATFORM_ROLE !== 'web')!;
  const callbackUrl = loadConfig(worker.seen).callbackUrl!; // the worker role requires it
  for (const { family, container } of sandboxContainers) {
    const harness = family.slice(`lap-${envName}-sandbox-`.length) as HarnessId;
    const overrides = await launcherOverrides(harness, callbackUrl);
    const entries = (container.Environment ?? []).map((e) => [e.Name, e.Value] as [string, unknown]);
    const secrets = Object.fromEntries(
      (container.Secrets ?? []).map((s) => [s.Name, resolved(s.ValueFrom)] as [string, string]),
    );
    const vault = container.Name === SANDBOX_CONTAINERS.vault;
    const image = vault
      ? imageEnvironment('sandbox/vault/Dockerfile')
      : imageEnvironment('sandbox/harness/Dockerfile', { HARNESS: harness });
    add(`${family} ${container.Name}`, vault ? vaultReader : harnessReader, entries, secrets, image);
    const delivered = out.at(-1)!;
    Object.assign(delivered.seen, vault ? overrides.vaultEnv : overrides.harnessEnv);
  }

  for (const [logicalId, resource] of Object.entries(json.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      const reader = FUNCTIONS.find(([pattern]) => pattern.test(logicalId))?.[1];
      const ours = String(resource.Properties?.Description ?? '').startsWith(`LAP ${envName}: `);
      if (!reader) {
        if (ours) throw new Error(`function ${logicalId} has no reader: add its schema to FUNCTIONS`);
        continue; // a CDK framework function (custom resource providers): not ours to read
      }
      const variables = (resource.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
      add(`function ${logicalId}`, reader, Object.entries(variables), {});
    }
    if (resource.Type === 'Custom::LapVaultCertificateAuthority') {
      const { ServiceToken: _token, ...properties } = resource.Properties ?? {};
      const parsed = vaultCaPropertiesSchema.safeParse(
        Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, resolved(value)])),
      );
      expect({ where: logicalId, issues: parsed.error?.issues ?? [] }).toEqual({
        where: logicalId,
        issues: [],
      });
    }
  }
  return out;
}

/** The problems of one delivery: what its reader refuses, unknown keys, secrets in plain sight. */
function problemsOf(delivery: Delivery): string[] {
  const { reader, plain, secrets, seen } = delivery;
  const known = new Set(reader.schemas.flatMap((schema) => Object.keys(schema.shape)));
  const problems: string[] = [];
  for (const name of [...Object.keys(plain), ...Object.keys(secrets)]) {
    const pair = reader === vaultReader && DEPLOYMENT_CREDENTIAL_VARIABLE.test(name);
    if (!known.has(name) && !pair) problems.push(`${name}: no schema of the ${reader.name} knows it`);
  }
  for (const name of Object.keys(plain))
    if (reader.secretNames(name)) problems.push(`${name}: a secret written as plain environment`);
  for (const name of Object.keys(secrets))
    if (!reader.secretNames(name))
      problems.push(`${name}: an ECS secret the ${reader.name} does not take as one`);
  try {
    reader.load(seen);
  } catch (error) {
    problems.push(`the ${reader.name} refuses it: ${(error as Error).message}`);
  }
  return problems;
}

/** What each schema key parses to in `env`, for the keys the schema knows. */
function parsedValues(delivery: Delivery): Map<string, { schema: z.ZodType; value: unknown }> {
  const values = new Map<string, { schema: z.ZodType; value: unknown }>();
  for (const schema of delivery.reader.schemas) {
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const raw = delivery.seen[key];
      const parsed = field.safeParse(raw === undefined || raw.trim() === '' ? undefined : raw.trim());
      if (parsed.success) values.set(key, { schema: field, value: parsed.data });
    }
  }
  return values;
}

/** Node's own variables differ by runtime on purpose (the CA bundle of each image). */
const PER_RUNTIME = new Set(['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']);

const DEPLOYMENTS: Array<[string, string, Record<string, unknown>]> = [
  ...CONFIG_ENVS.flatMap((envName): Array<[string, string, Record<string, unknown>]> => [
    [`${envName} (egress advisory)`, envName, configWith(envName, { sandbox: { egress: 'advisory' } })],
    [`${envName} (egress enforced)`, envName, configWith(envName, { sandbox: { egress: 'enforced' } })],
  ]),
  [
    'prod with a git token on a single database instance',
    'prod',
    configWith('prod', {
      database: { engine: 'instance', instanceType: 't4g.small' },
      git: {
        tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lap/git-token-AbCdEf',
        hosts: ['github.com', 'gitlab.example.com'],
      },
    }),
  ],
];

describe.each(DEPLOYMENTS)('%s', (_name, envName, input) => {
  let handedOut: Delivery[];
  beforeAll(async () => {
    handedOut = await deliveries(envName, input);
  });

  it('hands every container and function an environment its program takes, with no key it does not know', () => {
    const readers = new Set(handedOut.map((d) => d.reader.name));
    for (const expected of ['platform', 'harness', 'vault', 'warm-pool function', 'vault-ca function'])
      expect(readers).toContain(expected);
    for (const delivery of handedOut)
      expect({ where: delivery.where, problems: problemsOf(delivery) }).toEqual({
        where: delivery.where,
        problems: [],
      });
  });

  it('gives a variable several programs read the same value in each', () => {
    const seen = new Map<string, { schema: z.ZodType; value: unknown; delivery: Delivery }>();
    const disagreements: string[] = [];
    for (const delivery of handedOut) {
      for (const [key, { schema, value }] of parsedValues(delivery)) {
        if (PER_RUNTIME.has(key)) continue;
        const first = seen.get(key);
        if (!first) seen.set(key, { schema, value, delivery });
        // The same definition read by another program (the database settings of the services
        // and the functions, the stub env file of the harness and the vault): the same value.
        else if (
          first.schema === schema &&
          first.delivery.reader !== delivery.reader &&
          JSON.stringify(first.value) !== JSON.stringify(value)
        )
          disagreements.push(
            `${key}: ${JSON.stringify(first.value)} in ${first.delivery.where}, ${JSON.stringify(value)} in ${delivery.where}`,
          );
      }
    }
    // A secret two services read comes from the same secret (the worker's and the gateway's token key).
    const secretSources = new Map<string, string>();
    for (const delivery of handedOut) {
      for (const [name, source] of Object.entries(delivery.secrets)) {
        const first = secretSources.get(name);
        if (first !== undefined && first !== source)
          disagreements.push(`${name}: read from ${first} and ${source}`);
        secretSources.set(name, source);
      }
    }
    expect(disagreements).toEqual([]);
  });
});

/** Each config with every optional platform and sandbox setting left at its default. */
const AT_DEFAULTS = CONFIG_ENVS.map((envName): [string, Record<string, unknown>] => {
  const { platform: _p, sandbox: _s, ...rest } = readConfigFile(envName);
  return [envName, rest];
});

describe.each(AT_DEFAULTS)('%s with every optional setting at its default', (envName, input) => {
  it("writes each service's own default for every key it sets, but the deliberate ones", async () => {
    const drifted: string[] = [];
    for (const delivery of await deliveries(envName, input)) {
      for (const [key, { schema, value }] of parsedValues(delivery)) {
        if (!delivery.literal.has(key) || key in DELIBERATE) continue;
        const fallback = schema.safeParse(undefined);
        if (
          fallback.success &&
          fallback.data !== undefined &&
          JSON.stringify(fallback.data) !== JSON.stringify(value)
        )
          drifted.push(
            `${delivery.where} ${key}: the deployment writes ${JSON.stringify(value)}, the ${delivery.reader.name} defaults to ${JSON.stringify(fallback.data)}`,
          );
      }
    }
    expect(drifted).toEqual([]);
  });
});

describe('variables several services read', () => {
  it('have one definition, so one rule and one default', () => {
    const schemas: Array<[string, z.ZodObject]> = [
      ['platform', platformEnvSchema],
      ['ECS launcher', ecsSandboxSettingsSchema],
      ['functions', functionEnvSchema],
      ['warm-pool', warmPoolFunctionEnvSchema],
      ['idle-reaper', idleReaperFunctionEnvSchema],
      ['task-events', taskEventsFunctionEnvSchema],
      ['migrate', migrateFunctionEnvSchema],
      ['egress gateway', egressGatewayEnvSchema],
    ];
    const defaults = new Map<string, { where: string; value: string }>();
    const differing: string[] = [];
    for (const [where, schema] of schemas) {
      for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        const parsed = field.safeParse(undefined);
        const value = JSON.stringify(parsed.success ? parsed.data : 'required');
        const first = defaults.get(key);
        if (first && first.value !== value && !PER_RUNTIME.has(key))
          differing.push(`${key}: ${first.value} in ${first.where}, ${value} in ${where}`);
        if (!first) defaults.set(key, { where, value });
      }
    }
    // A variable required by one reader may be optional for another (the platform reads the
    // database by URL or by parts); a default, when there is one, is the same everywhere.
    expect(differing.filter((line) => !/"required"/.test(line))).toEqual([]);
  });
});

describe('the egress gateway (Go) and its schema', () => {
  const sources = fs
    .readdirSync(path.join(REPO_ROOT, 'sandbox/egress-gateway'))
    .filter((file) => file.endsWith('.go') && !file.endsWith('_test.go'))
    .map((file) => fs.readFileSync(path.join(REPO_ROOT, 'sandbox/egress-gateway', file), 'utf8'));
  const code = sources.join('\n');
  const main = fs.readFileSync(path.join(REPO_ROOT, 'sandbox/egress-gateway/main.go'), 'utf8');

  /** What the program reads: os.Getenv("X") and envOr("X", "default"), with every default it uses. */
  const read = new Map<string, Set<string>>();
  const note = (name: string, fallback?: string) => {
    const defaults = read.get(name) ?? new Set<string>();
    if (fallback !== undefined) defaults.add(fallback);
    read.set(name, defaults);
  };
  for (const [, name] of code.matchAll(/os\.Getenv\("([A-Z0-9_]+)"\)/g)) note(name!);
  for (const [, name, fallback] of code.matchAll(/envOr\("([A-Z0-9_]+)",\s*"([^"]*)"\)/g))
    note(name!, fallback);

  /** What its documentation lists: the `// Environment:` block of main.go. */
  const documented = new Map<string, string | undefined>();
  const block = /\/\/ Environment:\n\/\/\n((?:\/\/\t.*\n)+)/.exec(main)?.[1] ?? '';
  for (const line of block.split('\n').filter(Boolean)) {
    const [, name, text] = /^\/\/\t([A-Z0-9_]+)\s+(.*)$/.exec(line) ?? [];
    if (name) documented.set(name, /\(default ([^)]+)\)/.exec(text ?? '')?.[1]);
  }

  it('reads exactly the variables its schema and its documentation name', () => {
    expect(read.size).toBeGreaterThanOrEqual(8);
    const schemaKeys = Object.keys(egressGatewayEnvSchema.shape).sort();
    expect([...read.keys()].sort()).toEqual(schemaKeys);
    expect([...documented.keys()].sort()).toEqual(schemaKeys);
  });

  it('has the defaults its schema and its documentation give', () => {
    for (const [name, defaults] of read) {
      const field = egressGatewayEnvSchema.shape[name as keyof typeof egressGatewayEnvSchema.shape];
      const parsed = field.safeParse(undefined);
      const schemaDefault = parsed.success && typeof parsed.data === 'string' ? parsed.data : undefined;
      // One default per variable, however many places read it.
      expect({ name, code: [...defaults] }).toEqual({
        name,
        code: schemaDefault === undefined ? [] : [schemaDefault],
      });
      expect({ name, documented: documented.get(name) }).toEqual({ name, documented: schemaDefault });
    }
  });
});
