import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `KEY=stub` lines atomically (temp file + rename in the same directory, mode 0600),
 * so the harness, which waits for the file to appear, never reads half of it.
 */
export function writeStubEnvFile(file: string, stubs: Record<string, string>): void {
  const lines = Object.entries(stubs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, stub]) => `${name}=${stub}\n`)
    .join('');
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(temporary, lines, { mode: 0o600 });
  fs.renameSync(temporary, file);
}
