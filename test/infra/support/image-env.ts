/**
 * The environment an image sets (its final stage's ENV instructions), as a container started
 * from it sees before the task definition's own: HOME, WORKSPACE_DIR, VAULT_RELAY_PATH, ...
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './synth';

/** `dockerfile` (repository path) with its build arguments `args` substituted. */
export function imageEnvironment(
  dockerfile: string,
  args: Record<string, string> = {},
): Record<string, string> {
  const text = fs.readFileSync(path.join(REPO_ROOT, dockerfile), 'utf8');
  const finalStage = text.slice(text.lastIndexOf('\nFROM '));
  // Instructions joined across line continuations; comment lines inside one are dropped (as Docker does).
  const instructions = finalStage
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n');
  const env: Record<string, string> = {};
  for (const instruction of instructions.filter((line) => line.startsWith('ENV '))) {
    for (const [, key, value] of instruction.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) {
      env[key!] = value!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? env[name] ?? '');
    }
  }
  return env;
}
