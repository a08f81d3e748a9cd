/**
 * Encrypts secret values (agent env vars, per-agent gateway keys) before they
 * reach the database. Local mode: AES-256-GCM with ENCRYPTION_KEY. AWS: KMS
 * envelope encryption. The database only ever holds the opaque ciphertext.
 */
export interface SecretStore {
  /** Returns an opaque, self-describing ciphertext (it names its scheme and key). */
  encrypt(plaintext: string, context: SecretContext): Promise<string>;
  /** Fails when the ciphertext was made for another context (e.g. another agent). */
  decrypt(ciphertext: string, context: SecretContext): Promise<string>;
}

/** Bound into the ciphertext (GCM additional data, KMS encryption context). */
export type SecretContext = Record<string, string>;
