/**
 * SecretStore for local mode and single-host deployments: AES-256-GCM with
 * ENCRYPTION_KEY. The context is bound as additional authenticated data, so a
 * ciphertext copied onto another agent's row fails to decrypt.
 *
 * Ciphertext format (self-describing, versioned):
 *   lap:v1:aes-256-gcm:<key id>:<iv b64url>:<tag b64url>:<ciphertext b64url>
 * The key id is a short hash of the key, so a wrong ENCRYPTION_KEY is reported as
 * such instead of as a generic authentication failure.
 */
import crypto from 'node:crypto';
import type { SecretContext, SecretStore } from './secret-store';

const PREFIX = 'lap:v1:aes-256-gcm';

/** Canonical bytes of a context: keys sorted, so {a,b} and {b,a} bind the same. */
function contextAad(context: SecretContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

export class LocalSecretStore implements SecretStore {
  private readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('LocalSecretStore needs a 32-byte key (ENCRYPTION_KEY)');
    this.keyId = crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  async encrypt(plaintext: string, context: SecretContext): Promise<string> {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(contextAad(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      PREFIX,
      this.keyId,
      iv.toString('base64url'),
      tag.toString('base64url'),
      body.toString('base64url'),
    ].join(':');
  }

  async decrypt(ciphertext: string, context: SecretContext): Promise<string> {
    if (!ciphertext.startsWith(`${PREFIX}:`)) throw new Error('not a local (aes-256-gcm v1) ciphertext');
    const [keyId, iv, tag, body] = ciphertext.slice(PREFIX.length + 1).split(':');
    if (!keyId || !iv || !tag || body === undefined) throw new Error('malformed local ciphertext');
    if (keyId !== this.keyId)
      throw new Error(
        `ciphertext was made with another ENCRYPTION_KEY (key id ${keyId}, this one ${this.keyId})`,
      );
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(contextAad(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error('ciphertext does not decrypt for this context (tampered, or made for another record)');
    }
  }
}
