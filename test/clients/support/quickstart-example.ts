import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');
export const QUICKSTART = 'clients/sdk/examples/quickstart.ts';

/** The SDK README's example run by node (tsx for the TypeScript syntax) against the built package. */
export class QuickstartRun {
  output = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(platform: { url: string; key: string }) {
    this.child = spawn(process.execPath, ['--import', 'tsx', QUICKSTART], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        LITELLM_AGENT_PLATFORM_URL: platform.url,
        LITELLM_AGENT_PLATFORM_KEY: platform.key,
      },
    });
    this.child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${String(pattern)}; output:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  kill(): void {
    this.child.kill();
  }
}
