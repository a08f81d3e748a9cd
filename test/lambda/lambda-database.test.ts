import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { LambdaDatabase } from '../../lambda/shared/database';
import { parseLambdaEnv, idleReaperFunctionEnvSchema, functionEnvSchema } from '../../lambda/shared/settings';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const smMock = mockClient(SecretsManagerClient);
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
let password: string;

beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
  const url = new URL(database.url);
  password = decodeURIComponent(url.password);
  env = {
    DB_HOST: url.hostname,
    DB_PORT: url.port,
    DB_NAME: url.pathname.slice(1),
    DB_USER: url.username,
    DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lap-db',
    DB_SSL: 'disable',
  };
});

afterAll(async () => {
  await database.drop();
});

beforeEach(() => smMock.reset());

const secret = (pw: string) => ({ SecretString: JSON.stringify({ username: 'postgres', password: pw }) });

test('reads the secret once and reuses the pool across invocations', async () => {
  smMock.on(GetSecretValueCommand).resolves(secret(password));
  const db = new LambdaDatabase(env, new SecretsManagerClient({ region: 'eu-west-1' }));
  const a = await db.get();
  const b = await db.get();
  expect(a).toBe(b);
  expect((await a.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  expect(smMock.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({
    SecretId: env.DB_SECRET_ARN,
  });
  await db.reset();
});

test('a reset (after each run) closes the connections and keeps the credentials', async () => {
  smMock.on(GetSecretValueCommand).resolves(secret(password));
  const db = new LambdaDatabase(env, new SecretsManagerClient({ region: 'eu-west-1' }));
  const first = await db.get();
  await db.reset();
  expect(first.totalCount).toBe(0);
  const second = await db.get();
  expect(second).not.toBe(first);
  expect((await second.query('SELECT 3 AS three')).rows[0].three).toBe(3);
  expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  await db.reset();
});

test('after a password rotation the secret is read again once', async () => {
  smMock.on(GetSecretValueCommand).resolvesOnce(secret('the-old-password')).resolves(secret(password));
  const db = new LambdaDatabase(env, new SecretsManagerClient({ region: 'eu-west-1' }));
  const pool = await db.get();
  expect((await pool.query('SELECT 2 AS two')).rows[0].two).toBe(2);
  expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  await db.reset();
});

test('a malformed secret or missing settings fail with a message naming the key, never the value', async () => {
  smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ password: 'hunter2-secret' }) });
  const db = new LambdaDatabase(env, new SecretsManagerClient({ region: 'eu-west-1' }));
  const error = await db.get().catch((e: Error) => e);
  expect(String(error)).toMatch(/DB_SECRET_ARN: the secret must hold username and password/);
  expect(String(error)).not.toContain('hunter2');
  expect(() => parseLambdaEnv(functionEnvSchema, {})).toThrow(
    /DB_HOST: .*database endpoint.*DB_NAME: .*DB_SECRET_ARN: .*ARN of the database secret/,
  );
  expect(() => parseLambdaEnv(idleReaperFunctionEnvSchema, { SESSION_CREATING_TIMEOUT_MS: 'soon' })).toThrow(
    /SESSION_CREATING_TIMEOUT_MS/,
  );
});
