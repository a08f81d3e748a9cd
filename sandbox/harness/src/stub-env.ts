import fs from 'node:fs';
import path from 'node:path';

/** A fallback poll, for file systems whose change notifications do not arrive. */
const POLL_MS = 1000;

/**
 * Waits for the vault's stub env file (KEY=stub lines) and parses it. The vault writes it
 * atomically (rename into place): a watch on its folder sees it the moment it lands.
 */
export async function waitForStubEnv(file: string, timeoutMs: number): Promise<Record<string, string>> {
  const read = (): Record<string, string> | null => {
    try {
      return parseStubEnv(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return null;
    }
  };
  const found = read();
  if (found) return found;
  return new Promise((resolve, reject) => {
    let watcher: fs.FSWatcher | undefined;
    const finish = (error: Error | null, stubs?: Record<string, string>) => {
      clearInterval(poll);
      clearTimeout(deadline);
      watcher?.close();
      if (error) reject(error);
      else resolve(stubs!);
    };
    const check = () => {
      try {
        const stubs = read();
        if (stubs) finish(null, stubs);
      } catch (error) {
        finish(error as Error);
      }
    };
    const poll = setInterval(check, POLL_MS);
    const deadline = setTimeout(
      () =>
        finish(
          new Error(
            `the vault did not write ${file} within ${Math.round(timeoutMs / 1000)} s ` +
              '(the platform never pushed the secrets to the vault, or the vault is not running)',
          ),
        ),
      timeoutMs,
    );
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      watcher = fs.watch(path.dirname(file), check);
      watcher.on('error', () => undefined);
    } catch {
      // No notifications here: the poll alone finds it.
    }
    check();
  });
}

export function parseStubEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}
