/**
 * `npm run diff -- --base <git-ref> [--env dev --env prod] [--fail-on-stateful]`
 *
 * Synthesizes the working tree and the base ref for each environment, without AWS credentials,
 * and prints the CloudFormation diff per stack. The base is exported with `git archive` and
 * synthesizes with its own dependencies: its own workspace packages, and its own locked
 * registry packages (aws-cdk-lib...), installed once per lockfile with `npm ci` into a cache
 * (`LAP_DIFF_CACHE`, default ~/.cache/lap-synth-diff) when its lockfile differs from this
 * checkout's. Listed first: exports an update removes or changes while another stack imports
 * them (the deploy would fail), then replacements and deletions of stateful resources
 * (database, secrets, KMS keys, log groups, VPC, buckets), which lose data or break everything
 * that trusts them. Output is Markdown, for a PR comment or a terminal.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ResourceImpact, formatDifferences, fullDiff, type TemplateDiff } from '@aws-cdk/cloudformation-diff';

/** Resource types whose replacement or deletion loses data or identity. */
export const STATEFUL_TYPES = new Set([
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBInstance',
  'AWS::SecretsManager::Secret',
  'AWS::KMS::Key',
  'AWS::Logs::LogGroup',
  'AWS::EC2::VPC',
  'AWS::S3::Bucket',
]);

type Template = { Resources?: Record<string, { Type: string; DeletionPolicy?: string }> } & Record<
  string,
  unknown
>;

export interface StatefulChange {
  stack: string;
  logicalId: string;
  type: string;
  change: 'replaced' | 'may be replaced' | 'deleted' | 'deleted (retained)';
}

/** Stateful resources the update from `before` to `after` replaces or deletes. */
export function statefulChanges(
  stack: string,
  before: Template,
  after: Template,
  diff: TemplateDiff = fullDiff(before, after),
): StatefulChange[] {
  const found: StatefulChange[] = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const type = change.oldResourceType ?? change.newResourceType ?? '';
    if (!STATEFUL_TYPES.has(type) || change.isAddition) return;
    if (change.isRemoval) {
      const policy = before.Resources?.[logicalId]?.DeletionPolicy;
      found.push({
        stack,
        logicalId,
        type,
        // RetainExceptOnCreate keeps the resource on an update that removes it, like Retain.
        change:
          policy === 'Retain' || policy === 'Snapshot' || policy === 'RetainExceptOnCreate'
            ? 'deleted (retained)'
            : 'deleted',
      });
    } else if (change.changeImpact === ResourceImpact.WILL_REPLACE) {
      found.push({ stack, logicalId, type, change: 'replaced' });
    } else if (change.changeImpact === ResourceImpact.MAY_REPLACE) {
      found.push({ stack, logicalId, type, change: 'may be replaced' });
    }
  });
  return found;
}

export interface BlockedExport {
  /** The stack exporting it and the stack importing it. */
  exporter: string;
  importer: string;
  name: string;
  change: 'removed' | 'changed';
}

/** Every Fn::ImportValue name in a template. */
function importedNames(template: Template): string[] {
  const names: string[] = [];
  JSON.stringify(template, (key, value: unknown) => {
    if (key === 'Fn::ImportValue' && typeof value === 'string') names.push(value);
    return value;
  });
  return names;
}

/**
 * Exports an update removes or changes while another deployed stack imports them: CloudFormation
 * refuses such an update ("Export ... cannot be deleted/updated as it is in use"), and the
 * exporting stack deploys first, so the deploy fails whatever the importing stack's new template
 * says. An importing stack that `after` no longer has is destroyed before its exporter, which
 * blocks nothing. `before` and `after` map stack names to templates.
 */
export function blockedExports(
  before: Record<string, Template>,
  after: Record<string, Template>,
): BlockedExport[] {
  const exportsOf = (templates: Record<string, Template>) => {
    const found = new Map<string, { stack: string; value: string }>();
    for (const [stack, template] of Object.entries(templates)) {
      const outputs = (template.Outputs ?? {}) as Record<
        string,
        { Value: unknown; Export?: { Name?: unknown } }
      >;
      for (const output of Object.values(outputs)) {
        if (typeof output.Export?.Name === 'string') {
          found.set(output.Export.Name, { stack, value: JSON.stringify(output.Value) });
        }
      }
    }
    return found;
  };
  const exportedBefore = exportsOf(before);
  const exportedAfter = exportsOf(after);
  const blocked: BlockedExport[] = [];
  for (const [importer, template] of Object.entries(before)) {
    // A stack the new version drops is destroyed, importers first: nothing blocks that.
    if (!(importer in after)) continue;
    for (const name of new Set(importedNames(template))) {
      const was = exportedBefore.get(name);
      if (!was || was.stack === importer) continue;
      const now = exportedAfter.get(name);
      if (!now) blocked.push({ exporter: was.stack, importer, name, change: 'removed' });
      else if (now.value !== was.value)
        blocked.push({ exporter: was.stack, importer, name, change: 'changed' });
    }
  }
  return blocked;
}

/** Renders the CDK toolkit's diff of one stack as plain text (no colours). */
export function renderDiff(diff: TemplateDiff): string {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  formatDifferences(sink, diff);
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
}

/**
 * Asset hashes (Lambda code, images) and the Lambda version ids derived from them change with
 * any file of the repository when bundling is skipped, so they are masked: asset updates never
 * replace a resource, and the review is about the templates.
 */
export function maskAssetHashes(template: Template): Template {
  const text = JSON.stringify(template)
    .replace(/[a-f0-9]{64}/g, '<asset-hash>')
    .replace(/(CurrentVersion[0-9A-F]{8})[a-f0-9]{32}/g, '$1');
  return JSON.parse(text) as Template;
}

/** Synthesizes the CDK app in `tree` for `envName` into `outDir`; returns templates by stack name. */
export function synthesizeTree(tree: string, envName: string, outDir: string): Record<string, Template> {
  if (!fs.existsSync(path.join(tree, 'bin', 'lap.ts'))) return {}; // the app did not exist at that ref
  const cdkJson = path.join(tree, 'cdk.json');
  const context = fs.existsSync(cdkJson)
    ? ((JSON.parse(fs.readFileSync(cdkJson, 'utf8')) as { context?: object }).context ?? {})
    : {};
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(tree, 'bin', 'lap.ts')], {
    cwd: tree,
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: outDir,
      // Templates only: no Lambda bundling, no asset copies, no built-in validation (speed).
      CDK_CONTEXT_JSON: JSON.stringify({
        ...context,
        env: envName,
        'aws:cdk:bundling-stacks': [],
        'aws:cdk:disable-asset-staging': true,
      }),
      CDK_VALIDATION: 'false',
    },
  });
  if (result.status !== 0) {
    throw new Error(`synth of ${envName} in ${tree} failed:\n${result.stderr || result.stdout}`);
  }
  const templates: Record<string, Template> = {};
  for (const file of fs.readdirSync(outDir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(fs.readFileSync(path.join(outDir, file), 'utf8')) as Template;
    templates[file.replace(/\.template\.json$/, '')] = maskAssetHashes(template);
  }
  return templates;
}

export interface DiffReport {
  markdown: string;
  stateful: StatefulChange[];
  blocked: BlockedExport[];
}

export function compareTrees(
  baseTree: string,
  headTree: string,
  envNames: string[],
  workDir: string,
  baseLabel: string,
): DiffReport {
  const stateful: StatefulChange[] = [];
  const blocked: BlockedExport[] = [];
  const sections: string[] = [];
  for (const envName of envNames) {
    const before = synthesizeTree(baseTree, envName, fs.mkdtempSync(path.join(workDir, `base-${envName}-`)));
    const after = synthesizeTree(headTree, envName, fs.mkdtempSync(path.join(workDir, `head-${envName}-`)));
    blocked.push(...blockedExports(before, after));
    for (const stack of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      const oldTemplate = before[stack] ?? {};
      const newTemplate = after[stack] ?? {};
      const diff = fullDiff(oldTemplate, newTemplate);
      stateful.push(...statefulChanges(stack, oldTemplate, newTemplate, diff));
      const status = !before[stack] ? ' (new stack)' : !after[stack] ? ' (stack removed)' : '';
      sections.push(
        diff.isEmpty
          ? `### ${stack}: no differences`
          : `### ${stack}${status}\n\n\`\`\`\n${renderDiff(diff)}\n\`\`\``,
      );
    }
  }
  const header = `## Synth diff: ${baseLabel} -> working tree (${envNames.join(', ')})`;
  const warning = stateful.length
    ? [
        `### :warning: ${stateful.length} stateful resource${stateful.length === 1 ? '' : 's'} replaced or deleted`,
        '',
        '| Stack | Resource | Type | Change |',
        '| --- | --- | --- | --- |',
        ...stateful.map((s) => `| ${s.stack} | ${s.logicalId} | ${s.type} | **${s.change}** |`),
        '',
        'Replacing a database, secret, key or VPC loses its data or identity: check a snapshot or migration plan before merging.',
      ].join('\n')
    : '### No stateful resource is replaced or deleted.';
  const exportsWarning = blocked.length
    ? [
        `### :no_entry: ${blocked.length} export${blocked.length === 1 ? '' : 's'} removed or changed while another stack imports ${blocked.length === 1 ? 'it' : 'them'}`,
        '',
        '| Exporting stack | Importing stack | Export | Change |',
        '| --- | --- | --- | --- |',
        ...blocked.map((b) => `| ${b.exporter} | ${b.importer} | ${b.name} | **${b.change}** |`),
        '',
        'CloudFormation refuses this update ("Export ... in use"): the deploy fails until the importing stack stops using the export.',
      ].join('\n')
    : undefined;
  const note =
    '_Asset hashes (Lambda code, container images) are masked: a code-only change shows no template difference._';
  const parts = [header, note, ...(exportsWarning ? [exportsWarning] : []), warning, ...sections];
  return { markdown: parts.join('\n\n') + '\n', stateful, blocked };
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Installs a tree's locked dependencies (no install scripts: synth needs none). */
export function npmCi(dir: string): void {
  const result = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`npm ci in ${dir} failed:\n${result.stderr}`);
}

export interface DependencyOptions {
  /** This checkout: its node_modules serve a base with the same lockfile. */
  repoRoot: string;
  /** Where installs for other lockfiles are kept, one folder per lockfile hash. */
  cacheDir: string;
  /** Installs a prepared folder (default: npm ci). */
  install?: (dir: string) => void;
}

/**
 * Gives `tree` (an exported base ref) a node_modules of its own: the registry packages its
 * lockfile pins (from this checkout when the lockfiles match, else from a cached `npm ci` of
 * that lockfile) and links to its own workspace packages, so the base synthesizes with exactly
 * what it had. Returns the folder the registry packages come from.
 */
export function linkDependencies(tree: string, options: DependencyOptions): string {
  const lock = path.join(tree, 'package-lock.json');
  const lockHash = fs.existsSync(lock) ? sha256(lock) : undefined;
  let installRoot = options.repoRoot;
  if (lockHash && lockHash !== sha256(path.join(options.repoRoot, 'package-lock.json'))) {
    installRoot = path.join(options.cacheDir, lockHash.slice(0, 16));
    if (!fs.existsSync(path.join(installRoot, '.installed'))) {
      fs.rmSync(installRoot, { recursive: true, force: true });
      fs.mkdirSync(installRoot, { recursive: true });
      // What npm ci reads: the manifests and the lockfile (workspace sources are not needed).
      const manifest = JSON.parse(fs.readFileSync(path.join(tree, 'package.json'), 'utf8')) as {
        workspaces?: string[];
      };
      for (const rel of [
        'package.json',
        'package-lock.json',
        ...(manifest.workspaces ?? []).map((w) => path.join(w, 'package.json')),
      ]) {
        if (!fs.existsSync(path.join(tree, rel))) continue;
        fs.mkdirSync(path.dirname(path.join(installRoot, rel)), { recursive: true });
        fs.copyFileSync(path.join(tree, rel), path.join(installRoot, rel));
      }
      (options.install ?? npmCi)(installRoot);
      fs.writeFileSync(path.join(installRoot, '.installed'), new Date().toISOString());
    }
  }
  linkModules(path.join(installRoot, 'node_modules'), path.join(tree, 'node_modules'));
  return installRoot;
}

/**
 * Fills `to` with links to every package of `from`: registry packages by absolute path,
 * workspace packages (relative links inside the tree, e.g. @lap/vault -> ../../sandbox/vault)
 * by the same relative path, so they resolve to the tree's own sources.
 */
function linkModules(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from)) {
    const source = path.join(from, entry);
    const target = path.join(to, entry);
    const stat = fs.lstatSync(source);
    if (stat.isSymbolicLink() && !path.isAbsolute(fs.readlinkSync(source))) {
      fs.symlinkSync(fs.readlinkSync(source), target);
    } else if (entry.startsWith('@') && stat.isDirectory()) {
      linkModules(source, target);
    } else {
      fs.symlinkSync(fs.realpathSync(source), target);
    }
  }
}

/** Exports `ref` of the repository at `repoRoot` into a fresh directory with its own dependencies. */
export function exportRef(repoRoot: string, ref: string, into: string, cacheDir = defaultCacheDir()): string {
  fs.mkdirSync(into, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', ref], {
    cwd: repoRoot,
    maxBuffer: 1024 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', into], { input: archive });
  linkDependencies(into, { repoRoot, cacheDir });
  return into;
}

function defaultCacheDir(): string {
  return process.env.LAP_DIFF_CACHE ?? path.join(os.homedir(), '.cache', 'lap-synth-diff');
}

function main(): void {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'HEAD' },
      env: { type: 'string', multiple: true },
      'fail-on-stateful': { type: 'boolean', default: false },
    },
  });
  const repoRoot = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
  const envNames = values.env?.length
    ? values.env
    : fs
        .readdirSync(path.join(repoRoot, 'config'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.replace(/\.json$/, ''))
        .sort();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-synth-diff-'));
  try {
    const baseTree = exportRef(repoRoot, values.base!, path.join(workDir, 'base'));
    const report = compareTrees(baseTree, repoRoot, envNames, workDir, values.base!);
    process.stdout.write(report.markdown);
    if (values['fail-on-stateful'] && (report.stateful.length || report.blocked.length)) process.exitCode = 2;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    // A ref that cannot be synthesized (e.g. before an image's Dockerfile existed): say which, briefly.
    console.error(`npm run diff: ${(err as Error).message.split('\n').slice(0, 8).join('\n')}`);
    process.exitCode = 1;
  }
}
