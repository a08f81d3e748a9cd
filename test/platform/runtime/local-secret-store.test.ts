import { LocalSecretStore } from '../../../platform/src/secrets/local';

describe('LocalSecretStore (AES-256-GCM, context as AAD)', () => {
  const store = new LocalSecretStore(Buffer.alloc(32, 3));

  it('round-trips and produces a versioned, self-describing ciphertext that hides the value', async () => {
    const ciphertext = await store.encrypt('ghp_realvalue', { agent_id: 'a1', purpose: 'env_vars' });
    expect(ciphertext).toMatch(/^lap:v1:aes-256-gcm:[0-9a-f]{8}:[\w-]+:[\w-]+:[\w-]+$/);
    expect(ciphertext).not.toContain('ghp_realvalue');
    expect(await store.encrypt('ghp_realvalue', { agent_id: 'a1', purpose: 'env_vars' })).not.toBe(
      ciphertext,
    );
    expect(await store.decrypt(ciphertext, { purpose: 'env_vars', agent_id: 'a1' })).toBe('ghp_realvalue');
  });

  it('refuses another context, a tampered ciphertext, another key, and foreign formats', async () => {
    const ciphertext = await store.encrypt('v', { agent_id: 'a1' });
    await expect(store.decrypt(ciphertext, { agent_id: 'a2' })).rejects.toThrow(/another record/);
    const parts = ciphertext.split(':');
    parts[6] = Buffer.from('x').toString('base64url');
    await expect(store.decrypt(parts.join(':'), { agent_id: 'a1' })).rejects.toThrow(/tampered/);
    await expect(
      new LocalSecretStore(Buffer.alloc(32, 4)).decrypt(ciphertext, { agent_id: 'a1' }),
    ).rejects.toThrow(/another ENCRYPTION_KEY/);
    await expect(store.decrypt('lap:v1:kms:abc', { agent_id: 'a1' })).rejects.toThrow(/not a local/);
    expect(() => new LocalSecretStore(Buffer.alloc(16))).toThrow(/32-byte key/);
  });
});
