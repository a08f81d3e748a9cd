/**
 * Every template of every config in config/ passes cfn-lint (the preinstalled CLI) without
 * errors. Warnings are printed, not failed: they are style (e.g. redundant DependsOn from CDK).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, synthesize } from './support/synth';

const envNames = fs
  .readdirSync(path.join(REPO_ROOT, 'config'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''));

it.each(envNames)('cfn-lint finds no error in the %s templates', (envName) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lap-cfn-lint-${envName}-`));
  const { json } = synthesize(envName, undefined, { nag: false });
  const files = Object.entries(json).map(([stack, template]) => {
    const file = path.join(dir, `${stack}.template.json`);
    fs.writeFileSync(file, JSON.stringify(template, null, 1));
    return file;
  });
  expect(files).toHaveLength(3);
  const result = spawnSync('cfn-lint', ['--format', 'parseable', ...files], { encoding: 'utf8' });
  const findings = result.stdout.split('\n').filter(Boolean);
  const errors = findings.filter((line) => /:E\d{4}:/.test(line));
  expect(errors).toEqual([]);
  // cfn-lint's exit code is a bit mask: 2 = errors (4 = warnings, 8 = informational).
  expect(result.status! & 2).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});
