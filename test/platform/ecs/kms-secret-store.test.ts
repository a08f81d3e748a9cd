import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { AGENT_SECRETS_CONTEXTS } from '../../../lib/constructs/platform-secrets';
import { KmsSecretStore } from '../../../platform/src/secrets/kms';
import { sealSessionEnv, unsealSessionEnv } from '../../../platform/src/secrets/session-env';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { startMotoServer, type MotoServer } from './support/moto-server';

let moto: MotoServer;
let kms: KMSClient;
let keyArn: string;
let store: KmsSecretStore;

const SECRET = 'ghp_0123456789abcdefREALTOKEN';
const context = { agent_id: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', field: 'env_vars' };

beforeAll(async () => {
  moto = await startMotoServer();
  kms = new KMSClient(moto.clientConfig);
  keyArn = (await kms.send(new CreateKeyCommand({ Description: 'lap agent secrets' }))).KeyMetadata!.Arn!;
  store = new KmsSecretStore(keyArn, kms);
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

test('round-trips a value through a per-value KMS data key; the ciphertext holds no plaintext', async () => {
  const a = await store.encrypt(SECRET, context);
  const b = await store.encrypt(SECRET, context);
  expect(a).toMatch(/^lap:v1:kms:[\w-]+:[\w-]+:[\w-]+:[\w-]+$/);
  expect(a).not.toContain(SECRET);
  expect(Buffer.from(a.split(':').at(-1)!, 'base64url').toString('utf8')).not.toContain(SECRET);
  // A fresh data key and IV every time.
  expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
  expect(await store.decrypt(a, { field: 'env_vars', agent_id: context.agent_id })).toBe(SECRET);
});

test('a ciphertext made for one context does not decrypt for another, nor when tampered', async () => {
  const ciphertext = await store.encrypt(SECRET, context);
  await expect(store.decrypt(ciphertext, { ...context, agent_id: 'another-agent' })).rejects.toThrow(
    /does not decrypt for this context/,
  );
  const parts = ciphertext.split(':');
  const body = Buffer.from(parts[6], 'base64url');
  body[0] ^= 1;
  parts[6] = body.toString('base64url');
  await expect(store.decrypt(parts.join(':'), context)).rejects.toThrow(/does not decrypt for this context/);
  await expect(store.decrypt('lap:v1:aes-256-gcm:abc:d:e:f', context)).rejects.toThrow(/not a KMS/);
});

test('the database holds only ciphertext', async () => {
  const db: TestDatabase = await createTestDatabase();
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const ciphertext = await store.encrypt(JSON.stringify({ GITHUB_TOKEN: SECRET }), context);
    await client.query(
      `INSERT INTO agents (id, model, env_var_keys, env_vars_ciphertext) VALUES ($1, 'gpt-4o', '{GITHUB_TOKEN}', $2)`,
      [context.agent_id, ciphertext],
    );
    const dump = await client.query(`SELECT row_to_json(a)::text AS row FROM agents a`);
    expect(dump.rows[0].row).toContain('GITHUB_TOKEN');
    expect(dump.rows[0].row).not.toContain(SECRET);
    const stored = (await client.query(`SELECT env_vars_ciphertext FROM agents`)).rows[0].env_vars_ciphertext;
    expect(JSON.parse(await store.decrypt(stored, context))).toEqual({ GITHUB_TOKEN: SECRET });
  } finally {
    await client.end();
    await db.drop();
  }
});

test('KMS sees the encryption context on both calls (exact parameters)', async () => {
  const kmsMock = mockClient(KMSClient);
  const dataKey = Buffer.alloc(32, 7);
  kmsMock
    .on(GenerateDataKeyCommand)
    .resolves({ Plaintext: Uint8Array.from(dataKey), CiphertextBlob: Buffer.from('wrapped-key') })
    .on(DecryptCommand)
    .callsFake(() => ({ Plaintext: Uint8Array.from(dataKey) }));
  const mocked = new KmsSecretStore(
    'arn:aws:kms:eu-west-1:123456789012:key/abc',
    new KMSClient({ region: 'eu-west-1' }),
  );
  const ciphertext = await mocked.encrypt('value', context);
  expect(await mocked.decrypt(ciphertext, context)).toBe('value');
  expect(kmsMock.commandCalls(GenerateDataKeyCommand)[0].args[0].input).toEqual({
    KeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
    KeySpec: 'AES_256',
    EncryptionContext: context,
  });
  expect(kmsMock.commandCalls(DecryptCommand)[0].args[0].input).toMatchObject({
    KeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
    EncryptionContext: context,
    CiphertextBlob: Buffer.from('wrapped-key'),
  });
  kmsMock.restore();
});

test("a session's own env vars are sealed with exactly the context the web role may encrypt with, for that session only", async () => {
  const sessionId = '7f1c2b9e-3a4d-4e5f-8a6b-1c2d3e4f5a6b';
  const env = { values: { CI_TOKEN: SECRET }, bindings: { CI_TOKEN: ['ci.example.com'] } };
  const sealed = await sealSessionEnv(store, sessionId, env);
  expect(sealed).not.toContain(SECRET);
  expect(await unsealSessionEnv(store, sessionId, sealed)).toEqual(env);
  await expect(unsealSessionEnv(store, '00000000-0000-4000-8000-000000000000', sealed)).rejects.toThrow(
    /does not decrypt for this context/,
  );

  // The context KMS sees satisfies the web and worker roles' grant (lib/constructs/platform-secrets.ts).
  const kmsMock = mockClient(KMSClient);
  kmsMock
    .on(GenerateDataKeyCommand)
    .resolves({ Plaintext: Uint8Array.from(Buffer.alloc(32, 1)), CiphertextBlob: Buffer.from('wrapped') });
  await sealSessionEnv(new KmsSecretStore(keyArn, new KMSClient({ region: 'eu-west-1' })), sessionId, env);
  const context = kmsMock.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.EncryptionContext!;
  kmsMock.restore();
  const grant = AGENT_SECRETS_CONTEXTS.session;
  expect(Object.keys(context).sort()).toEqual([grant.idKey, 'purpose'].sort());
  expect(grant.purposes).toContain(context.purpose);
  expect(context[grant.idKey]).toBe(sessionId);
});
