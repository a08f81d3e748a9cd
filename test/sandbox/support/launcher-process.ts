/**
 * A platform process in miniature, for tests that kill it: launches one local sandbox (the
 * real vault, the runtime's harness double) in LAP_DATA_DIR, prints the sandbox's registry
 * (sandbox.json) as one JSON line, then waits to be killed. Env: LAP_DATA_DIR, CA_CERT_PATH,
 * CA_KEY_PATH.
 */
import { launchDouble, launcherOfDoubles } from './local-sandboxes';

async function main(): Promise<void> {
  const dataDir = process.env.LAP_DATA_DIR!;
  const launcher = launcherOfDoubles(dataDir, {
    certPath: process.env.CA_CERT_PATH!,
    keyPath: process.env.CA_KEY_PATH!,
  });
  console.log(JSON.stringify(await launchDouble(launcher, dataDir, 'a1a1a1a1-0000-4000-8000-00000000000a')));
  setInterval(() => undefined, 60_000);
}

void main();
