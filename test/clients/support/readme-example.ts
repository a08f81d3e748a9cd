import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');
/** The SDK README's example: the code of seed 000, as written. */
export const README_EXAMPLE = 'clients/sdk/examples/readme-example.ts';
const SEEDS_DIR = path.resolve(repoRoot, '../shared/seeds');

/**
 * The example's code in seed 000 (the upstream SDK README), from `import` to the events
 * loop; undefined when the shared seeds are not next to this checkout.
 */
export function seedExampleCode(): string | undefined {
  if (!fs.existsSync(SEEDS_DIR)) return undefined;
  const seed = fs.readdirSync(SEEDS_DIR).find((name) => name.startsWith('000_'));
  if (!seed) return undefined;
  const text = fs.readFileSync(path.join(SEEDS_DIR, seed), 'utf8');
  const start = text.indexOf('import { Agent }');
  const endMarker = 'console.log(ev.type, ev);';
  const end = text.indexOf(endMarker, start);
  return start < 0 || end < 0 ? undefined : text.slice(start, end + endMarker.length);
}

/** The committed example's code, from `import` on (the header comments are not part of it). */
export function readmeExampleCode(): string {
  const text = fs.readFileSync(path.join(repoRoot, README_EXAMPLE), 'utf8');
  return text.slice(text.indexOf('import { Agent }')).trim();
}

/** The same code up to formatting: quotes, whitespace and trailing commas (what prettier changes). */
export function sameCodeIgnoringFormat(a: string, b: string): boolean {
  const normalize = (code: string) =>
    code
      .replace(/"/g, "'")
      .replace(/\s+/g, '')
      .replace(/,([}\])])/g, '$1');
  return normalize(a) === normalize(b);
}

/** The README example run by node (tsx for the TypeScript syntax) against the built package. */
export class ReadmeExampleRun {
  output = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;

  /** Only the two variables the example reads are set. */
  constructor(platform: { url: string; key: string }) {
    this.child = spawn(process.execPath, ['--import', 'tsx', README_EXAMPLE], {
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

  /** The exit code, or a rejection with the output when it has not exited within `timeoutMs`. */
  async exitWithin(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the example did not exit within ${timeoutMs} ms; output:\n${this.output}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.child.kill();
  }
}
