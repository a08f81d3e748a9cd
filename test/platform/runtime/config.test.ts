import { loadConfig } from '../../../platform/src/config';
import { configProblems, VALID_PLATFORM_ENV } from './support/platform-env';

describe('platform config', () => {
  it('resolves a valid environment with documented defaults', () => {
    const config = loadConfig(VALID_PLATFORM_ENV);
    expect(config).toMatchObject({
      role: 'all',
      port: 3000,
      // TLS to the database unless DB_SSL=disable: the services and the Lambdas share this default.
      database: { url: VALID_PLATFORM_ENV.DATABASE_URL, ssl: true },
      sandboxLauncher: 'local',
      callbackUrl: 'http://10.0.0.5:3000',
      warmPool: { size: 2, recentAgentHours: 24, maxProvisioning: 2, ttlMinutes: 30 },
      sessionCreatingTimeoutMs: 600_000,
      logLevel: 'info',
      ecs: undefined,
    });
    expect(config.secretStore).toEqual({ kind: 'local', encryptionKey: Buffer.alloc(32, 1) });
  });

  it('the internal listener: 3001 by default, never the public port; the web role needs the worker URL only', () => {
    expect(loadConfig(VALID_PLATFORM_ENV)).toMatchObject({
      internalPort: 3001,
      workerInternalUrl: undefined,
    });
    expect(configProblems({ ...VALID_PLATFORM_ENV, PORT: '3001' })).toEqual([
      'INTERNAL_PORT must differ from PORT (both 3001): the internal listener is never the public one',
    ]);
    const { CALLBACK_URL: _c, VAULT_CA_CERT: _v, ...withoutLaunchSettings } = VALID_PLATFORM_ENV;
    expect(configProblems({ ...withoutLaunchSettings, PLATFORM_ROLE: 'web' })).toEqual([
      "WORKER_INTERNAL_URL is required with PLATFORM_ROLE=web: the workers' internal listener, e.g. http://worker.lap-dev.internal:3001",
    ]);
    const web = loadConfig({
      ...withoutLaunchSettings,
      PLATFORM_ROLE: 'web',
      WORKER_INTERNAL_URL: 'http://worker.lap-dev.internal:3001/',
    });
    expect(web).toMatchObject({
      role: 'web',
      workerInternalUrl: 'http://worker.lap-dev.internal:3001',
      callbackUrl: undefined,
      vaultCaCertPem: undefined,
    });
  });

  it('builds the database URL from DB_* parts, escaping them', () => {
    const { DATABASE_URL: _u, ...rest } = VALID_PLATFORM_ENV;
    const config = loadConfig({
      ...rest,
      DB_HOST: 'h',
      DB_NAME: 'lap',
      DB_USER: 'u',
      DB_PASSWORD: 'p@ss/w',
      DB_SSL: 'require',
    });
    expect(config.database).toMatchObject({ url: 'postgres://u:p%40ss%2Fw@h:5432/lap', ssl: true });
  });

  it('with DB_SECRET_ARN takes no DB_PASSWORD and leaves the password out of the URL', () => {
    const { DATABASE_URL: _u, ...rest } = VALID_PLATFORM_ENV;
    const parts = { DB_HOST: 'h', DB_NAME: 'lap', DB_USER: 'u' };
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lap-db-AbCdEf';
    const config = loadConfig({ ...rest, ...parts, DB_SECRET_ARN: arn, DB_PASSWORD: 'stale-at-start' });
    expect(config.database).toMatchObject({
      url: 'postgres://u@h:5432/lap',
      ssl: true,
      passwordSecretArn: arn,
    });
    expect(loadConfig({ ...rest, ...parts, DB_SECRET_ARN: arn }).database.url).toBe(
      'postgres://u@h:5432/lap',
    );

    // Neither source of the password, and a bad ARN next to other problems: one error lists them all.
    const text = configProblems({ ...rest, ...parts, MASTER_KEY: 'short' }).join('\n');
    expect(text).toMatch(/DATABASE_URL is missing: .*\(missing: DB_PASSWORD or DB_SECRET_ARN\)/);
    expect(text).toMatch(/MASTER_KEY must be at least 8 characters/);
    const bad = configProblems({ ...rest, ...parts, DB_SECRET_ARN: 'lap-db', MASTER_KEY: 'short' }).join(
      '\n',
    );
    expect(bad).toMatch(/DB_SECRET_ARN must be a Secrets Manager secret ARN \(arn:aws:secretsmanager:/);
    expect(bad).toMatch(/MASTER_KEY must be at least 8 characters/);
  });

  it('lists every bad and missing key in ONE error, each with how to fix it', () => {
    const problems = configProblems({
      PLATFORM_ROLE: 'scheduler',
      PORT: 'eighty',
      MASTER_KEY: 'short',
      ENCRYPTION_KEY: 'dG9vIHNob3J0',
      WARM_POOL_SIZE: '-1',
      LITELLM_API_BASE: 'not a url',
      SANDBOX_LAUNCHER: 'ecs',
      SANDBOX_TASK_DEFINITIONS: '{"opencode": 5}',
    });
    const text = problems.join('\n');
    expect(text).toMatch(/PLATFORM_ROLE must be one of all, web, worker, got "scheduler"/);
    expect(text).toMatch(/PORT must be an integer >= 1/);
    expect(text).toMatch(/MASTER_KEY must be at least 8 characters/);
    expect(text).toMatch(/WARM_POOL_SIZE must be an integer >= 0/);
    expect(text).toMatch(/LITELLM_API_BASE must be an http\(s\) URL/);
    expect(text).toMatch(/DATABASE_URL is missing: set DATABASE_URL=postgres:/);
    expect(text).toMatch(/HARNESS_TOKEN_SIGNING_KEY is required .*openssl rand -hex 32/);
    expect(text).toMatch(/ENCRYPTION_KEY must be 32 bytes in base64/);
    expect(text).toMatch(/CALLBACK_URL is required/);
    expect(text).toMatch(/VAULT_CA_CERT is required/);
    expect(text).toMatch(/SANDBOX_CLUSTER_ARN is required with SANDBOX_LAUNCHER=ecs/);
    expect(text).toMatch(/SANDBOX_SUBNET_IDS is required with SANDBOX_LAUNCHER=ecs/);
    expect(text).toMatch(/SANDBOX_TASK_DEFINITIONS.opencode .*expected string/);
    // A bad key is reported as bad, not also as missing.
    expect(text).not.toMatch(/MASTER_KEY is required/);
    expect(text).not.toMatch(/LITELLM_API_BASE is required/);
    expect(problems.length).toBeGreaterThanOrEqual(13);
    try {
      loadConfig({ PORT: 'x' });
    } catch (err) {
      expect((err as Error).message).toMatch(/^invalid platform configuration \(\d+ problems\):\n {2}- /);
    }
  });

  it('asks for KMS_KEY_ARN (not ENCRYPTION_KEY) with SECRET_STORE=kms, and ECS settings only with the ecs launcher', () => {
    const { ENCRYPTION_KEY: _k, ...rest } = VALID_PLATFORM_ENV;
    expect(configProblems({ ...rest, SECRET_STORE: 'kms' })).toEqual([
      'KMS_KEY_ARN is required with SECRET_STORE=kms: the ARN of the KMS key for envelope encryption',
    ]);
    const config = loadConfig({
      ...rest,
      SECRET_STORE: 'kms',
      KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      SANDBOX_LAUNCHER: 'ecs',
      SANDBOX_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:111122223333:cluster/lap',
      SANDBOX_SUBNET_IDS: 'subnet-1, subnet-2',
      SANDBOX_SECURITY_GROUP_ID: 'sg-1',
      SANDBOX_ENVIRONMENT: 'prod',
      SANDBOX_TASK_DEFINITIONS: '{"opencode":"lap-opencode"}',
    });
    expect(config.secretStore).toEqual({
      kind: 'kms',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
    });
    expect(config.ecs).toMatchObject({
      subnetIds: ['subnet-1', 'subnet-2'],
      taskDefinitions: { opencode: 'lap-opencode' },
      capacity: 'spot-with-fallback',
      environment: 'prod',
    });
  });

  it('never echoes a secret value in its messages', () => {
    const problems = configProblems({
      ...VALID_PLATFORM_ENV,
      MASTER_KEY: 'sec',
      ENCRYPTION_KEY: 'c2VjcmV0LXZhbHVl',
    });
    expect(problems.join('\n')).not.toContain('c2VjcmV0LXZhbHVl');
    expect(problems.join('\n')).not.toMatch(/"sec"/);
  });
});
