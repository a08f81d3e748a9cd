/**
 * SecretStore on AWS: KMS envelope encryption. Each value gets its own data key
 * (GenerateDataKey, AES-256) that encrypts it locally with AES-256-GCM; the data
 * key travels inside the ciphertext, encrypted by the KMS key. The SecretContext is
 * both the KMS encryption context (so Decrypt fails, and CloudTrail shows which
 * record was read) and the GCM additional data. The database holds only this blob.
 *
 * Ciphertext format (self-describing, versioned):
 *   lap:v1:kms:<encrypted data key b64url>:<iv b64url>:<tag b64url>:<ciphertext b64url>
 */
import crypto from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { SecretContext, SecretStore } from './secret-store';

const PREFIX = 'lap:v1:kms';

/** Canonical bytes of a context: keys sorted, so {a,b} and {b,a} bind the same. */
function contextAad(context: SecretContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

export class KmsSecretStore implements SecretStore {
  constructor(
    private readonly keyArn: string,
    private readonly kms: KMSClient = new KMSClient({}),
  ) {
    if (!keyArn) throw new Error('KmsSecretStore needs KMS_KEY_ARN (the key that wraps the data keys)');
  }

  async encrypt(plaintext: string, context: SecretContext): Promise<string> {
    const dataKey = await this.kms.send(
      new GenerateDataKeyCommand({ KeyId: this.keyArn, KeySpec: 'AES_256', EncryptionContext: context }),
    );
    if (!dataKey.Plaintext || !dataKey.CiphertextBlob)
      throw new Error('KMS GenerateDataKey returned no data key');
    const key = Buffer.from(dataKey.Plaintext);
    try {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(contextAad(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        PREFIX,
        Buffer.from(dataKey.CiphertextBlob).toString('base64url'),
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        body.toString('base64url'),
      ].join(':');
    } finally {
      key.fill(0);
      dataKey.Plaintext.fill(0);
    }
  }

  async decrypt(ciphertext: string, context: SecretContext): Promise<string> {
    if (!ciphertext.startsWith(`${PREFIX}:`)) throw new Error('not a KMS (lap:v1:kms) ciphertext');
    const [wrappedKey, iv, tag, body] = ciphertext.slice(PREFIX.length + 1).split(':');
    if (!wrappedKey || !iv || !tag || body === undefined) throw new Error('malformed KMS ciphertext');
    let plaintextKey: Uint8Array | undefined;
    try {
      const out = await this.kms.send(
        new DecryptCommand({
          KeyId: this.keyArn,
          CiphertextBlob: Buffer.from(wrappedKey, 'base64url'),
          EncryptionContext: context,
        }),
      );
      plaintextKey = out.Plaintext;
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') {
        throw new Error(
          'ciphertext does not decrypt for this context (tampered, or made for another record)',
          { cause: error },
        );
      }
      throw error;
    }
    if (!plaintextKey) throw new Error('KMS Decrypt returned no data key');
    const key = Buffer.from(plaintextKey);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(contextAad(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error('ciphertext does not decrypt for this context (tampered, or made for another record)');
    } finally {
      key.fill(0);
      plaintextKey.fill(0);
    }
  }
}
