/**
 * The services' pool with DB_SECRET_ARN against a real PostgreSQL and moto's Secrets
 * Manager: after a rotation (ALTER ROLE ... PASSWORD + new secret value) the first new
 * connection is refused, its refusal drops the cached password, and the next one reads the
 * secret again and works, without a restart or waiting for the cache to expire.
 */
import crypto from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { createPool } from '../../../platform/src/db/pool';
import { parseRdsSecret, rdsSecretPassword } from '../../../platform/src/db/rds-secret';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { startMotoServer, type MotoServer } from '../ecs/support/moto-server';

jest.setTimeout(60_000);

let moto: MotoServer;
let database: TestDatabase;
let admin: pg.Client;
let adminSecrets: SecretsManagerClient;
const role = `rotating_${crypto.randomBytes(4).toString('hex')}`;
const passwordA = crypto.randomBytes(12).toString('hex');
const passwordB = crypto.randomBytes(12).toString('hex');
let secretArn: string;
let roleUrl: string;

/** A Secrets Manager client that counts its GetSecretValue calls. */
function countingClient(): { client: SecretsManagerClient; reads: () => number } {
  const client = new SecretsManagerClient(moto.clientConfig);
  let reads = 0;
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetSecretValueCommand') reads += 1;
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, reads: () => reads };
}

beforeAll(async () => {
  [moto, database] = await Promise.all([startMotoServer(), createTestDatabase({ migrated: false })]);
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${passwordA}'`);
  adminSecrets = new SecretsManagerClient(moto.clientConfig);
  const created = await adminSecrets.send(
    new CreateSecretCommand({
      Name: `lap-db-${role}`,
      SecretString: JSON.stringify({ engine: 'postgres', username: role, password: passwordA }),
    }),
  );
  secretArn = created.ARN!;
  const url = new URL(database.url);
  url.username = role;
  url.password = '';
  roleUrl = url.toString();
});

afterAll(async () => {
  await admin?.end();
  await database?.drop();
  await moto?.stop();
});

test('after a rotation, one connection is refused and the next reads the new password', async () => {
  let clock = 1_000_000;
  const sm = countingClient();
  const password = rdsSecretPassword({ client: sm.client, secretArn, ttlMs: 60_000, now: () => clock });
  const pool = createPool({ url: roleUrl, password, max: 5 });
  try {
    const first = await pool.connect();
    expect((await first.query('SELECT current_user AS u')).rows[0].u).toBe(role);
    first.release(true); // destroyed: the next checkout opens a new connection
    const held = await pool.connect();
    expect(sm.reads()).toBe(1); // the second connection used the cached password

    // RDS rotates: the role gets password B, then the secret holds B.
    await admin.query(`ALTER ROLE ${role} PASSWORD '${passwordB}'`);
    await adminSecrets.send(
      new PutSecretValueCommand({
        SecretId: secretArn,
        SecretString: JSON.stringify({ engine: 'postgres', username: role, password: passwordB }),
      }),
    );

    // The next new connection still offers the cached A and is refused; an open one keeps working.
    await expect(pool.connect()).rejects.toMatchObject({ code: '28P01' });
    expect((await held.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    held.release(true);

    // Well within the 60 s cache: the refusal made the pool forget A, so this one reads B.
    clock += 1_000;
    const after = await pool.connect();
    expect((await after.query('SELECT current_user AS u')).rows[0].u).toBe(role);
    after.release(true);
    expect(sm.reads()).toBe(2);
    // And B is cached again: no read per connection.
    const again = await pool.connect();
    again.release();
    expect(sm.reads()).toBe(2);
  } finally {
    await pool.end();
  }
});

test('concurrent connections share one read; a failed read is not cached', async () => {
  const sm = countingClient();
  const password = rdsSecretPassword({ client: sm.client, secretArn });
  const values = await Promise.all([password(), password(), password()]);
  expect(new Set(values)).toEqual(new Set([passwordB]));
  expect(sm.reads()).toBe(1);

  const missing = countingClient();
  const broken = rdsSecretPassword({ client: missing.client, secretArn: `${secretArn}-gone` });
  await expect(broken()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  await expect(broken()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  expect(missing.reads()).toBe(2);
});

test('a malformed secret fails naming DB_SECRET_ARN, never quoting the value', () => {
  const notJson = (() => {
    try {
      parseRdsSecret('hunter2-not-json');
    } catch (err) {
      return String(err);
    }
  })();
  expect(notJson).toMatch(/DB_SECRET_ARN: the secret is not JSON with username and password/);
  expect(notJson).not.toContain('hunter2');
  expect(() => parseRdsSecret(JSON.stringify({ password: 'hunter2' }))).toThrow(
    /^DB_SECRET_ARN: the secret must hold username and password$/,
  );
  expect(() => parseRdsSecret(undefined)).toThrow(/DB_SECRET_ARN: the secret is not JSON/);
  expect(parseRdsSecret(JSON.stringify({ username: 'u', password: 'p', host: 'h' }))).toEqual({
    username: 'u',
    password: 'p',
  });
});
