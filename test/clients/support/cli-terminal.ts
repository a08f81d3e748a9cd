import path from 'node:path';
import { spawn as spawnPty, type IPty } from 'node-pty';

export const CLI_MAIN = path.resolve(__dirname, '../../../clients/cli/dist/main.js');

/** The `lap` CLI (built dist) running in a real pseudo-terminal, with its screen output collected. */
export class CliTerminal {
  output = '';
  readonly exited: Promise<number>;
  private readonly pty: IPty;

  constructor(args: string[], env: Record<string, string>, size = { cols: 120, rows: 40 }) {
    this.pty = spawnPty(process.execPath, [CLI_MAIN, ...args], {
      name: 'xterm-256color',
      ...size,
      cwd: env.HOME ?? process.cwd(),
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm-256color', ...env },
    });
    this.pty.onData((data) => (this.output += data));
    this.exited = new Promise((resolve) => this.pty.onExit(({ exitCode }) => resolve(exitCode)));
  }

  /** Output with colours and cursor movement removed. */
  get text(): string {
    // eslint-disable-next-line no-control-regex
    return this.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  }

  write(data: string): void {
    this.pty.write(data);
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
  }

  /** Resolves when the output (from `from` on) matches; rejects with the screen so far on timeout. */
  async waitFor(pattern: string | RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.text.slice(from);
      const match =
        typeof pattern === 'string' ? (text.includes(pattern) ? [pattern] : null) : text.match(pattern);
      if (match) return match as RegExpMatchArray;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${String(pattern)}; screen:\n${this.text}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async exitCode(timeoutMs = 15_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lap did not exit; screen:\n${this.text}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    try {
      this.pty.kill();
    } catch {
      // already gone
    }
  }
}

/** Runs one `lap` command to completion in a pseudo-terminal. */
export async function runLap(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; text: string }> {
  const terminal = new CliTerminal(args, env);
  const code = await terminal.exitCode();
  return { code, text: terminal.text };
}
