import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');
const PACKAGES = ['clients/sdk', 'clients/cli'];

/**
 * Builds the SDK and the CLI into dist/ unless dist/ is newer than every source file.
 * The tests run the built packages, as users do. flock serialises parallel test files.
 */
export function buildClients(): void {
  if (PACKAGES.every(isBuildFresh)) return;
  execFileSync(
    'flock',
    ['/tmp/lap-clients-build.lock', 'npm', 'run', 'build', ...PACKAGES.flatMap((dir) => ['-w', dir])],
    { cwd: repoRoot, stdio: 'pipe' },
  );
}

function isBuildFresh(packageDir: string): boolean {
  const built = fileTimes(path.join(repoRoot, packageDir, 'dist'));
  const sources = fileTimes(path.join(repoRoot, packageDir, 'src'));
  return built.length > 0 && Math.min(...built) >= Math.max(...sources, 0);
}

/** Modification times of every file under a folder (none if it is missing). */
function fileTimes(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
}
