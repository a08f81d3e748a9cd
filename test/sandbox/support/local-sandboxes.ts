/**
 * Local-mode sandboxes for process-lifetime tests: a LocalSandboxLauncher whose sandboxes run
 * the real vault and the runtime's harness double (nothing is pushed: the double waits), and
 * the registry (sandbox.json) of a sandbox it launched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalSandboxLauncher } from '../../../platform/src/sandbox/local/local-launcher';

export function launcherOfDoubles(
  dataDir: string,
  ca: { certPath: string; keyPath: string },
): LocalSandboxLauncher {
  return new LocalSandboxLauncher({
    dataDir,
    caCertPath: ca.certPath,
    caKeyPath: ca.keyPath,
    litellm: { apiBase: 'http://127.0.0.1:9', apiKey: 'sk-test-gateway' },
    harnessEntry: path.resolve(__dirname, '../../platform/runtime/support/fake-harness.ts'),
  });
}

/** Launches sandbox `sandboxId` and answers its registry: `pids` are its process groups. */
export async function launchDouble(
  launcher: LocalSandboxLauncher,
  dataDir: string,
  sandboxId: string,
): Promise<{ pids: Record<string, number> }> {
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
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8')) as {
    pids: Record<string, number>;
  };
}
