/**
 * The template of every config in config/, in both egress modes and the variants, passes
 * cfn-lint (the preinstalled CLI) without errors. Warnings are printed, not failed: they are
 * style (e.g. redundant DependsOn from CDK).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesize } from './support/synth';
import { variants } from './support/variants';

it('cfn-lint finds no error in any template', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-cfn-lint-'));
  const files = variants().map((variant, i) => {
    const { json } = synthesize(variant.envName, variant.input, { nag: false });
    const file = path.join(dir, `${i}-${variant.name.replace(/\W+/g, '-')}.template.json`);
    fs.writeFileSync(file, JSON.stringify(json, null, 1));
    return file;
  });
  expect(files.length).toBeGreaterThanOrEqual(8);
  const result = spawnSync('cfn-lint', ['--format', 'parseable', ...files], { encoding: 'utf8' });
  const findings = result.stdout.split('\n').filter(Boolean);
  const errors = findings.filter((line) => /:E\d{4}:/.test(line));
  expect(errors).toEqual([]);
  // cfn-lint's exit code is a bit mask: 2 = errors (4 = warnings, 8 = informational).
  expect(result.status! & 2).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});
