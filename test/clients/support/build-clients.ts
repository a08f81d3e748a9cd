import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Builds the SDK and the CLI into dist/ when a source file is newer: the tests run the built
 * packages, as users do. The freshness check and the build both happen under one flock, so
 * parallel test files never rebuild a package under each other's feet.
 */
export function buildClients(): void {
  execFileSync(
    'flock',
    ['/tmp/lap-clients-build.lock', process.execPath, path.join(__dirname, 'build-stale-clients.mjs')],
    { stdio: 'pipe' },
  );
}
