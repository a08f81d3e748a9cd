/**
 * Local mode's data directory (LAP_DATA_DIR, default .lap/): the keys it generates
 * once and keeps (mode 0600), the deployment CA, PostgreSQL's data and the sandboxes.
 *
 *   local-secrets.json   ENCRYPTION_KEY, HARNESS_TOKEN_SIGNING_KEY, the database password, MASTER_KEY (if generated)
 *   ca/ca.pem, ca/ca-key.pem   the deployment CA (vault TLS)
 *   postgres/            PostgreSQL data (owned by `postgres` when run as root)
 *   sandboxes/<id>/      one folder per sandbox (local launcher)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { createCertificateAuthority } from '@lap/vault/src/ca';

const localSecretsSchema = z.object({
  encryptionKey: z.string().min(40),
  harnessTokenSigningKey: z.string().min(32),
  databasePassword: z.string().min(16),
  masterKey: z.string().min(8).optional(),
});
export type LocalSecrets = z.infer<typeof localSecretsSchema>;

export function ensureDataDir(dataDir: string): void {
  // Traversable by others (PostgreSQL runs as `postgres` when we are root); every secret file inside is 0600.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  fs.chmodSync(dataDir, 0o711);
}

function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, content, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Reads the keys generated on the first start, generating them now if this is it. */
export function loadOrCreateLocalSecrets(dataDir: string): { secrets: LocalSecrets; created: boolean } {
  const file = path.join(dataDir, 'local-secrets.json');
  if (fs.existsSync(file)) {
    const parsed = localSecretsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!parsed.success)
      throw new Error(`${file} is damaged (${parsed.error.issues[0]?.message}); restore it from a backup`);
    return { secrets: parsed.data, created: false };
  }
  const secrets: LocalSecrets = {
    encryptionKey: crypto.randomBytes(32).toString('base64'),
    harnessTokenSigningKey: crypto.randomBytes(32).toString('hex'),
    databasePassword: crypto.randomBytes(24).toString('hex'),
  };
  writeSecretFile(file, JSON.stringify(secrets, null, 2));
  return { secrets, created: true };
}

/** Keeps a generated MASTER_KEY so the API key survives restarts; returns it. */
export function rememberMasterKey(dataDir: string, secrets: LocalSecrets, masterKey: string): void {
  writeSecretFile(
    path.join(dataDir, 'local-secrets.json'),
    JSON.stringify({ ...secrets, masterKey }, null, 2),
  );
}

export interface CaFiles {
  certPath: string;
  keyPath: string;
  certPem: string;
}

export function loadOrCreateCa(dataDir: string): CaFiles {
  const certPath = path.join(dataDir, 'ca', 'ca.pem');
  const keyPath = path.join(dataDir, 'ca', 'ca-key.pem');
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    const ca = createCertificateAuthority('LAP local vault CA');
    writeSecretFile(keyPath, ca.keyPem);
    fs.writeFileSync(certPath, ca.certPem, { mode: 0o644 });
  }
  return { certPath, keyPath, certPem: fs.readFileSync(certPath, 'utf8') };
}
