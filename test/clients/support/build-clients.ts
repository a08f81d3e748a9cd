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
  const dist = path.join(repoRoot, packageDir, 'dist');
  const builtAt = newest(dist, false);
  return builtAt > 0 && builtAt >= newest(path.join(repoRoot, packageDir, 'src'), true);
}

/** Newest mtime under a folder (0 if missing); `newestFile` false: oldest instead. */
function newest(dir: string, newestFile: boolean): number {
  if (!fs.existsSync(dir)) return 0;
  const times = fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  if (times.length === 0) return 0;
  return newestFile ? Math.max(...times) : Math.min(...times);
}
