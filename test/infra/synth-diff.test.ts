/**
 * `npm run diff` on commits of a fixture repository: the base commit has the Aurora database,
 * the next one switches to a single instance, which replaces (deletes) the cluster; the last
 * one changes only a workspace package (the sandbox protocol's vault admin port), which the base
 * must not see: it synthesizes with its own dependencies.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fullDiff } from '@aws-cdk/cloudformation-diff';
import { linkDependencies, statefulChanges } from '../../tools/synth-diff';
import { REPO_ROOT } from './support/synth';

const APP_PATHS = [
  'bin',
  'lib',
  'config',
  'lambda',
  'tools',
  'platform',
  'sandbox',
  'cdk.json',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.base.json',
];
/** Image build files the fixture needs to exist (contents do not matter: assets are not staged). */
const DOCKERFILES = ['platform/Dockerfile', 'sandbox/vault/Dockerfile', 'sandbox/harness/Dockerfile'];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'test',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 'test',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });
}

describe('npm run diff', () => {
  let repo: string;

  beforeAll(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-diff-fixture-'));
    for (const p of APP_PATHS) {
      fs.cpSync(path.join(REPO_ROOT, p), path.join(repo, p), {
        recursive: true,
        filter: (src) => !src.includes(`${path.sep}node_modules`) && !src.includes('__snapshots__'),
      });
    }
    for (const f of DOCKERFILES)
      if (!fs.existsSync(path.join(repo, f))) fs.writeFileSync(path.join(repo, f), 'FROM scratch\n');
    // The fixture's own node_modules: this checkout's packages, links to the fixture's workspaces.
    linkDependencies(repo, { repoRoot: REPO_ROOT, cacheDir: path.join(repo, '.cache') });
    fs.writeFileSync(path.join(repo, '.gitignore'), 'node_modules\n.cache\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'aurora');
    const config = JSON.parse(fs.readFileSync(path.join(repo, 'config/dev.json'), 'utf8'));
    config.database = { engine: 'instance', instanceType: 't4g.micro' };
    fs.writeFileSync(path.join(repo, 'config/dev.json'), JSON.stringify(config, null, 2));
    git(repo, 'commit', '-q', '-am', 'single instance');
    const protocol = path.join(repo, 'sandbox/protocol/src/vault.ts');
    fs.writeFileSync(
      protocol,
      fs.readFileSync(protocol, 'utf8').replace(/VAULT_ADMIN_PORT = \d+/, 'VAULT_ADMIN_PORT = 14999'),
    );
    git(repo, 'commit', '-q', '-am', 'vault admin port');
  });

  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  it('flags the replaced database at the top, then prints the diff per stack', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'tools/synth-diff.ts', '--base', 'HEAD~2', '--env', 'dev'],
      {
        cwd: repo,
        encoding: 'utf8',
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          AWS_PROFILE: 'lap-no-such-profile',
        },
        timeout: 180_000,
      },
    );
    const lines = out.split('\n');
    expect(lines[0]).toBe('## Synth diff: HEAD~2 -> working tree (dev)');
    const warningAt = lines.findIndex((l) => l.includes(':warning:'));
    const firstStackAt = lines.findIndex((l) => /^### lap-dev/.test(l));
    expect(warningAt).toBeGreaterThan(0);
    expect(warningAt).toBeLessThan(firstStackAt);
    expect(out).toMatch(/\| lap-dev \| DataDatabaseCluster\w+ \| AWS::RDS::DBCluster \| \*\*deleted\*\* \|/);
    // The stack's diff shows the cluster going and the instance coming.
    const section = out.slice(out.indexOf('### lap-dev'));
    expect(section).toMatch(/\[-\] AWS::RDS::DBCluster/);
    expect(section).toMatch(/\[\+\] AWS::RDS::DBInstance/);
  });

  it('synthesizes the base with its own workspace packages: a protocol change shows', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'tools/synth-diff.ts', '--base', 'HEAD~1', '--env', 'dev'],
      { cwd: repo, encoding: 'utf8', timeout: 180_000 },
    );
    // The sandbox ingress rule and the vault's port mapping move from 14323 to 14999.
    expect(out).toMatch(/14323/);
    expect(out).toMatch(/14999/);
    expect(out).toMatch(/No stateful resource is replaced or deleted/);
  });

  it('reports no stateful change when nothing stateful moves', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'tools/synth-diff.ts', '--base', 'HEAD', '--env', 'dev'],
      {
        cwd: repo,
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    expect(out).toMatch(/No stateful resource is replaced or deleted/);
    expect(out).toMatch(/### lap-dev: no differences/);
  });
});

describe('statefulChanges', () => {
  const bucket = (props: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    Resources: { Logs: { Type: 'AWS::S3::Bucket', Properties: props, ...extra } },
  });

  it('flags a replacement caused by an immutable property', () => {
    expect(statefulChanges('s', bucket({ BucketName: 'a' }), bucket({ BucketName: 'b' }))).toEqual([
      { stack: 's', logicalId: 'Logs', type: 'AWS::S3::Bucket', change: 'replaced' },
    ]);
  });

  it('marks a deletion of a retained resource as retained', () => {
    expect(statefulChanges('s', bucket({}, { DeletionPolicy: 'Retain' }), { Resources: {} })).toEqual([
      { stack: 's', logicalId: 'Logs', type: 'AWS::S3::Bucket', change: 'deleted (retained)' },
    ]);
  });

  it('ignores additions, in-place updates and stateless resources', () => {
    expect(statefulChanges('s', { Resources: {} }, bucket({}))).toEqual([]);
    expect(
      statefulChanges('s', bucket({ VersioningConfiguration: { Status: 'Enabled' } }), bucket({})),
    ).toEqual([]);
    const fn = (code: string) => ({
      Resources: { F: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: code } } },
    });
    const diff = fullDiff(fn('a'), fn('b'));
    expect(statefulChanges('s', fn('a'), fn('b'), diff)).toEqual([]);
  });
});

describe('linkDependencies', () => {
  it("installs a base whose lockfile differs once per lockfile, and links the tree's own workspaces", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-deps-'));
    const checkout = path.join(root, 'checkout');
    const cacheDir = path.join(root, 'cache');
    fs.mkdirSync(path.join(checkout, 'node_modules'), { recursive: true });
    fs.writeFileSync(path.join(checkout, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    const tree = (name: string) => {
      const dir = path.join(root, name);
      fs.mkdirSync(path.join(dir, 'ws'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ workspaces: ['ws'] }));
      fs.writeFileSync(path.join(dir, 'ws', 'package.json'), JSON.stringify({ name: '@x/ws' }));
      fs.writeFileSync(path.join(dir, 'package-lock.json'), '{"lockfileVersion":3,"packages":{"old":{}}}');
      return dir;
    };
    const installs: string[] = [];
    const install = (dir: string) => {
      installs.push(dir);
      // What npm ci leaves: a registry package and a relative link to the workspace.
      fs.mkdirSync(path.join(dir, 'node_modules', 'aws-cdk-lib'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'node_modules', 'aws-cdk-lib', 'version'), 'base');
      fs.mkdirSync(path.join(dir, 'node_modules', '@x'), { recursive: true });
      fs.symlinkSync('../../ws', path.join(dir, 'node_modules', '@x', 'ws'));
    };
    const first = tree('base-1');
    const second = tree('base-2');
    const root1 = linkDependencies(first, { repoRoot: checkout, cacheDir, install });
    const root2 = linkDependencies(second, { repoRoot: checkout, cacheDir, install });
    expect(installs).toHaveLength(1);
    expect(root1).toBe(root2);
    expect(fs.readFileSync(path.join(second, 'node_modules', 'aws-cdk-lib', 'version'), 'utf8')).toBe('base');
    expect(fs.realpathSync(path.join(second, 'node_modules', '@x', 'ws'))).toBe(
      fs.realpathSync(path.join(second, 'ws')),
    );
    fs.rmSync(root, { recursive: true, force: true });
  });
});
