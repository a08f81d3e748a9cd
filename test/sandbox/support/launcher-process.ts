/**
 * A platform process in miniature, for tests that kill it: runs a LocalSandboxLauncher that
 * launches one sandbox (the real vault, the runtime's harness double) in LAP_DATA_DIR, prints
 * the sandbox's registry (sandbox.json) as one JSON line, then waits to be killed.
 * Env: LAP_DATA_DIR, CA_CERT_PATH, CA_KEY_PATH.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalSandboxLauncher } from '../../../platform/src/sandbox/local/local-launcher';

async function main(): Promise<void> {
  const dataDir = process.env.LAP_DATA_DIR!;
  const launcher = new LocalSandboxLauncher({
    dataDir,
    caCertPath: process.env.CA_CERT_PATH!,
    caKeyPath: process.env.CA_KEY_PATH!,
    litellm: { apiBase: 'http://127.0.0.1:9', apiKey: 'sk-test-gateway' },
    harnessEntry: path.resolve(__dirname, '../../platform/runtime/support/fake-harness.ts'),
  });
  const sandboxId = 'a1a1a1a1-0000-4000-8000-00000000000a';
  await launcher.launch({
    sandboxId,
    kind: 'session',
    agentId: 'agent',
    harnessId: 'opencode',
    harnessImage: null,
    harnessEnv: {
      SANDBOX_ID: sandboxId,
      HARNESS_ID: 'opencode',
      HARNESS_TOKEN: 'harness-token-0123456789abcdef',
      CALLBACK_URL: 'http://127.0.0.1:9',
      CALLBACK_TOKEN: 'callback-token-0123456789abcdef',
    },
    vaultEnv: { VAULT_ADMIN_TOKEN: 'admin-token-0123456789abcdef' },
  });
  const registry = fs.readFileSync(path.join(dataDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8');
  console.log(registry);
  setInterval(() => undefined, 60_000);
}

void main();
