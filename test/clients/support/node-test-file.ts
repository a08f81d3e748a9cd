import { spawn } from 'node:child_process';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');

export interface NodeTestResult {
  exitCode: number | null;
  passed: number;
  failed: number;
  output: string;
}

/**
 * Runs one node:test file (TypeScript through tsx) in a child process. The clients are
 * ESM-only packages, which this repository's CommonJS Jest cannot load, so their tests
 * run under node:test and Jest checks the outcome.
 */
export function runNodeTestFile(file: string, env: NodeJS.ProcessEnv = {}): Promise<NodeTestResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
      cwd: repoRoot,
      env: { ...process.env, ...env, FORCE_COLOR: '0', NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const count = (label: string) => Number(output.match(new RegExp(`^ℹ ${label} (\\d+)$`, 'm'))?.[1] ?? 0);
      resolve({ exitCode, passed: count('pass'), failed: count('fail'), output });
    });
  });
}

/** Fails with the child's whole report when any of its tests failed or none ran. */
export function expectAllPassed(result: NodeTestResult): void {
  if (result.exitCode !== 0 || result.failed > 0 || result.passed === 0) {
    throw new Error(`node:test run failed (exit ${result.exitCode}):\n${result.output}`);
  }
}
