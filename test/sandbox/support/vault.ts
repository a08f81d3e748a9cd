/** Starts a vault in-process (real listeners, real TLS) with its logs captured. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent, ProxyAgent, request } from 'undici';
import { loadVaultConfig } from '@lap/vault/src/config';
import { startVault, type RunningVault } from '@lap/vault/src/vault';
import type { TestPki } from './tls';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

export interface TestVault {
  vault: RunningVault;
  logs: string[];
  envFile: string;
  proxyUrl: string;
  /** An undici dispatcher that sends through the vault and trusts the deployment CA. */
  dispatcher: ProxyAgent;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read whatever the vault answered
  pushSecrets(body: unknown, token?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A vault's environment in the tests: ephemeral loopback ports, the test PKI, `ADMIN_TOKEN`. */
export function testVaultEnv(pki: TestPki, envFile: string): Record<string, string> {
  return {
    VAULT_PORT: '0',
    VAULT_ADMIN_PORT: '0',
    VAULT_ADMIN_BIND_HOST: '127.0.0.1',
    VAULT_ADMIN_TOKEN: ADMIN_TOKEN,
    VAULT_ENV_FILE: envFile,
    VAULT_CA_CERT_PATH: pki.deploymentCaPath,
    VAULT_CA_KEY_PATH: pki.deploymentCaKeyPath,
    VAULT_UPSTREAM_CA_PATH: pki.upstreamCaPath,
  };
}

export async function startTestVault(pki: TestPki, env: Record<string, string> = {}): Promise<TestVault> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const envFile = path.join(fs.mkdtempSync(path.join(pki.dir, 'sandbox-')), 'vault.env');
  const config = loadVaultConfig({ ...testVaultEnv(pki, envFile), LOG_LEVEL: 'debug', ...env });
  const vault = await startVault(config, pino({ level: 'debug' }, sink));
  const proxyUrl = `http://127.0.0.1:${vault.proxyPort}`;
  const dispatcher = new ProxyAgent({ uri: proxyUrl, requestTls: { ca: pki.deploymentCa.certPem } });
  return {
    vault,
    logs,
    envFile,
    proxyUrl,
    dispatcher,
    pushSecrets: (body, token = ADMIN_TOKEN) => pushVaultSecrets(pki, vault.adminPort, body, token),
    async close() {
      await dispatcher.close();
      await vault.close();
    },
  };
}

/** POSTs to a vault's admin endpoint, verifying it exactly as the platform does: deployment CA + server name lap-vault. */
export async function pushVaultSecrets(
  pki: TestPki,
  adminPort: number,
  body: unknown,
  token = ADMIN_TOKEN,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read whatever the vault answered
): Promise<{ status: number; body: any }> {
  const agent = new Agent({ connect: { ca: pki.deploymentCa.certPem, servername: 'lap-vault' } });
  try {
    const response = await request(`https://127.0.0.1:${adminPort}/v1/secrets`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.statusCode, body: await response.body.json() };
  } finally {
    await agent.close();
  }
}

/** One raw request to a vault's proxy port, as a program would write it; resolves with the status line and headers. */
export function rawProxyRequest(proxyUrl: string, raw: string, timeoutMs = 5000): Promise<string> {
  const { port } = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(raw));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply to ${JSON.stringify(raw)}`)));
  });
}
