/**
 * node:test file, run by ../packaging.test.ts after the clients are built:
 * both packages pack with their types, and the SDK README's example (seed 000's code, as
 * written) runs to completion against the control-plane TEST DOUBLE (the run against
 * local mode is in e2e-local-upstream-clients.ts).
 */
import { expect } from 'expect';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startFakeLapServer, type FakeLapServer } from '../support/fake-lap-server.js';
import {
  ReadmeExampleRun,
  readmeExampleCode,
  sameCodeIgnoringFormat,
  seedExampleCode,
} from '../support/readme-example.js';

const repoRoot = path.resolve(__dirname, '../../..');

function packedFiles(workspace: string): { name: string; files: string[] } {
  // --ignore-scripts: the test already built dist/; prepack would rebuild it under running tests.
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '-w', workspace], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [result] = JSON.parse(json) as Array<{ name: string; files: Array<{ path: string }> }>;
  return { name: result.name, files: result.files.map((f) => f.path) };
}

test('npm pack: the SDK ships ESM, .d.ts types and its README, no sources', () => {
  const { name, files } = packedFiles('clients/sdk');
  expect(name).toBe('@litellm/agent-sdk');
  expect(files).toEqual(
    expect.arrayContaining([
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/session.d.ts',
    ]),
  );
  expect(files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual(
    [],
  );
});

test('npm pack: the CLI ships the lap bin and its README', () => {
  const { name, files } = packedFiles('clients/cli');
  expect(name).toBe('@litellm/agent-cli');
  expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/main.js']));
  expect(files.some((f) => f.startsWith('src/'))).toBe(false);
});

let lap: FakeLapServer;
before(async () => {
  lap = await startFakeLapServer({ bootMs: 300 });
});
after(() => lap.close());

test('the example is the code of seed 000 as written (formatting aside)', (t) => {
  const seed = seedExampleCode();
  if (seed === undefined) return t.skip('the shared seeds are not next to this checkout');
  expect(sameCodeIgnoringFormat(readmeExampleCode(), seed)).toBe(true);
});

test('the SDK README example runs as written and exits on its own: events() ends when the session is idle', async () => {
  const run = new ReadmeExampleRun({ url: lap.url, key: lap.masterKey });
  try {
    expect(await run.exitWithin(30_000)).toBe(0);
    expect(run.output).toMatch(/^ready \{ type: 'ready' \}$/m);
    expect(run.output).toMatch(/^done \{ type: 'done' \}\n$/m);
    const agent = [...lap.agents.values()].find((a) => a.template_id === 'tpl_opencode_my_repo');
    expect(agent).toMatchObject({ name: 'tpl_opencode_my_repo', prompt: 'You are a senior reviewer.' });
    const session = [...lap.sessions.values()].find((s) => s.agent_id === agent?.id);
    expect(session?.response).toEqual({
      parts: [{ type: 'text', text: 'echo: Now show me the routes file.' }],
    });
  } finally {
    run.kill();
  }
});
