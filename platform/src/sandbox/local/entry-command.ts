/**
 * How local mode starts a sandbox program (sandbox/vault, sandbox/harness): bundled by
 * esbuild into one JavaScript file next to its sources (`<package>/dist/local-main.js`, as
 * the images bundle them) and run by plain `node`. Through tsx, every start loaded the
 * loader, transpiled and resolved a few hundred files and kept an esbuild service process
 * alive beside it: 0.6-1.1 s to the first line on this 2-core machine against 0.2-0.5 s.
 * Bundled once per platform process (about 0.3 s), written atomically so concurrent
 * processes never run half a file. Set NODE_OPTIONS=--enable-source-maps for TypeScript
 * stack traces. Without esbuild (a service image) the entry runs through tsx.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Loaded by the harness at run time, from the repository's node_modules (native addon, ESM). */
const EXTERNAL = ['node-pty', '@anthropic-ai/claude-agent-sdk'];

const bundles = new Map<string, Promise<string | null>>();

async function bundle(entry: string): Promise<string | null> {
  // Resolved at run time, not bundled into the platform: only local mode needs it.
  const load = createRequire(__filename);
  let esbuild: typeof import('esbuild');
  try {
    esbuild = load('esbuild') as typeof import('esbuild');
  } catch {
    return null;
  }
  const out = path.join(path.dirname(entry), '..', 'dist', 'local-main.js');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    format: 'cjs',
    external: EXTERNAL,
    sourcemap: 'linked',
    outfile: out,
    write: false,
    logLevel: 'silent',
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, file.contents);
    fs.renameSync(temporary, file.path);
  }
  return out;
}

/** The node arguments that run `entry` (a TypeScript main file); `bundle` as described above. */
export async function entryCommand(entry: string, options: { bundle: boolean }): Promise<string[]> {
  if (options.bundle) {
    let built = bundles.get(entry);
    if (!built) {
      built = bundle(entry);
      bundles.set(entry, built);
    }
    const file = await built;
    if (file) return [file];
  }
  return ['--import', pathToFileURL(require.resolve('tsx')).href, entry];
}
