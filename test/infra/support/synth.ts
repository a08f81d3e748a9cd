/**
 * Synthesizes the app for tests: the same stack factory and cdk.json context as `cdk synth`,
 * with Lambda bundling and asset staging turned off (both only copy files; hashes still reflect
 * the sources) so a synth takes seconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveConfig, type DeploymentConfig } from '../../../lib/config';
import { createEnvironment } from '../../../lib/create-environment';
import type { EnvironmentStack } from '../../../lib/stacks/environment-stack';
import type { CfnTemplate } from './template-model';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Every environment in config/ (the tests cover each one). */
export const CONFIG_ENVS = fs
  .readdirSync(path.join(REPO_ROOT, 'config'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

export function readConfigFile(envName: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'config', `${envName}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** `config/<envName>.json` with `patch` merged in one level deep (sections are merged, not replaced). */
export function configWith(envName: string, patch: Record<string, unknown>): Record<string, unknown> {
  const base = readConfigFile(envName);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = base[key];
    merged[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? { ...(current as object), ...(value as object) }
        : value;
  }
  return merged;
}

export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface Synthesized {
  config: DeploymentConfig;
  stack: EnvironmentStack;
  template: Template;
  /** The raw template JSON. */
  json: CfnTemplate;
  /** The cloud assembly's directory (templates and asset manifests). */
  assemblyDirectory: string;
}

export function synthesize(
  envName: string,
  input: unknown = readConfigFile(envName),
  options: { nag?: boolean } = {},
): Synthesized {
  const app = new App({
    // cfn-lint runs on every template in cfn-lint.test.ts; the built-in validator would add 15 s per synth.
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJsonContext(),
      'aws:cdk:bundling-stacks': [],
      'aws:cdk:disable-asset-staging': true,
    },
  });
  const config = resolveConfig(envName, input);
  const stack = createEnvironment(app, config, { nag: options.nag ?? true });
  const assembly = app.synth();
  const json = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  return {
    config,
    stack,
    template: Template.fromJSON(json as unknown as Record<string, unknown>),
    json,
    assemblyDirectory: assembly.directory,
  };
}

/**
 * A template for snapshots: a Lambda version's logical id ends in a hash of the function's
 * code asset (which changes with any source edit, and with bundling skipped even with files
 * outside git), so only that suffix is masked; ids and references keep their shape.
 */
export function snapshotTemplate(template: Record<string, unknown>): unknown {
  return JSON.parse(
    JSON.stringify(template).replace(/(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}/g, '$1[CODE HASH]'),
  );
}

/** Snapshot serializer: asset hashes and staged asset paths change with any source edit; the template shape does not. */
export const assetHashSerializer = {
  test: (value: unknown) => typeof value === 'string' && /[a-f0-9]{64}|asset\.[a-f0-9]+/.test(value),
  print: (value: unknown) =>
    JSON.stringify(
      (value as string)
        .replace(/[a-f0-9]{64}(\.(zip|json|tar))?/g, '[ASSET HASH]')
        .replace(/asset\.[a-f0-9]+/g, 'asset.[HASH]'),
    ),
};
