// Builds the SDK and the CLI into dist/ unless dist/ is newer than every source file.
// Run only under the build lock (see build-clients.ts; a different base name, or Jest would resolve './build-clients' to this file): checking and building inside one
// lock means a test never rebuilds (rm -rf dist) a package another test is running.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PACKAGES = ['clients/sdk', 'clients/cli'];

/** Modification times of every file under a folder (none if it is missing). */
function fileTimes(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
}

function isBuildFresh(packageDir) {
  const built = fileTimes(path.join(repoRoot, packageDir, 'dist'));
  const sources = fileTimes(path.join(repoRoot, packageDir, 'src'));
  return built.length > 0 && Math.min(...built) >= Math.max(...sources, 0);
}

if (!PACKAGES.every(isBuildFresh)) {
  execFileSync('npm', ['run', 'build', ...PACKAGES.flatMap((dir) => ['-w', dir])], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
}
