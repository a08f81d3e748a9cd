import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `KEY=stub` lines atomically (temp file + rename in the same directory), so the
 * harness, which waits for the file to appear, never reads half of it. Mode 0640: the harness
 * may run as another user of the sandbox's own group (local mode as root, where the folder
 * is closed to everyone else); the file holds stubs only.
 */
export function writeStubEnvFile(file: string, stubs: Record<string, string>): void {
  const lines = Object.entries(stubs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, stub]) => `${name}=${stub}\n`)
    .join('');
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(temporary, lines, { mode: 0o640 });
  fs.renameSync(temporary, file);
}
