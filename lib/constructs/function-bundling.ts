import path from 'node:path';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: Lambda entries, Dockerfiles and the lock file are resolved from here. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * esbuild options shared by every Lambda: bundled locally (no Docker), minified, with source
 * maps for readable stack traces. The AWS SDK v3 comes from the Node.js runtime.
 */
export function functionBundling(extra: Partial<nodejs.BundlingOptions> = {}): nodejs.BundlingOptions {
  return {
    forceDockerBundling: false,
    minify: true,
    sourceMap: true,
    sourceMapMode: nodejs.SourceMapMode.INLINE,
    target: 'node24',
    externalModules: ['@aws-sdk/*'],
    ...extra,
  };
}

/** Props common to every NodejsFunction of the app (project root and lock file). */
export const FUNCTION_PROJECT = {
  projectRoot: REPO_ROOT,
  depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
};
