import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits for the vault's stub env file (KEY=stub lines) and parses it. */
export async function waitForStubEnv(file: string, timeoutMs: number): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return parseStubEnv(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the vault did not write ${file} within ${Math.round(timeoutMs / 1000)} s ` +
          '(the platform never pushed the secrets to the vault, or the vault is not running)',
      );
    }
    await sleep(200);
  }
}

export function parseStubEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}
