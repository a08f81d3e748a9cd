import fs from 'node:fs';
import path from 'node:path';

/**
 * TEST DOUBLE of a TUI agent program: a `claude` (and `codex`) shell script the real
 * harness runs in its real PTY. It echoes each line it reads and prints the terminal
 * size on every SIGWINCH, so a test can see keystrokes and resizes arrive.
 * Returns the folder to put first on PATH.
 */
export function installFakeTuiPrograms(dir: string): string {
  const bin = path.join(dir, 'fake-tui-bin');
  fs.mkdirSync(bin, { recursive: true });
  // Local mode as root runs each harness as a sandbox user of its own: it must reach the program.
  fs.chmodSync(dir, fs.statSync(dir).mode | 0o111);
  const script = [
    '#!/bin/sh',
    `trap 'echo "size: $(stty size)"' WINCH`,
    'echo "fake tui ready"',
    'while true; do',
    '  if IFS= read -r line; then echo "tui got: $line"; fi',
    'done',
    '',
  ].join('\n');
  for (const name of ['claude', 'codex']) fs.writeFileSync(path.join(bin, name), script, { mode: 0o755 });
  return bin;
}
