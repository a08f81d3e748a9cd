/**
 * node:test file, run by ../packaging.test.ts after the clients are built:
 * both packages pack with their types, and the SDK README's example runs as written
 * against the control-plane TEST DOUBLE (the run against local mode is in e2e-local.ts).
 */
import { expect } from 'expect';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startFakeLapServer, type FakeLapServer } from '../support/fake-lap-server.js';
import { QuickstartRun } from '../support/quickstart-example.js';

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

test('the SDK README example runs as written and ends when its session is stopped', async () => {
  const run = new QuickstartRun({ url: lap.url, key: lap.masterKey });
  try {
    const [, sessionId] = await run.waitFor(/^session (\S+) ready$/m, 20_000);
    await run.waitFor(/^reply echo: Now show me the routes file\.$/m, 10_000);
    await run.waitFor(/^turn_done /m, 10_000);
    expect([...lap.agents.values()].map((a) => a.name)).toContain('tpl_opencode_my_repo');
    lap.sessions.get(sessionId)!.status = 'dead';
    lap.dropEventStreams();
    expect(await run.exited).toBe(0);
    expect(run.output).toMatch(/session ended\n$/);
  } finally {
    run.kill();
  }
});
