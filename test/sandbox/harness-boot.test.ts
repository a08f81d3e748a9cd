/**
 * Boot failures are reported to the platform with a reason a user can act on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxBootSpec } from '@lap/sandbox-protocol';
import { BootError, cloneRepository, installRequirements, resolveFilePath } from '@lap/harness/src/boot';
import { loadHarnessConfig } from '@lap/harness/src/config';
import { startFakePlatform } from './support/fake-platform';
import { createBareRepo, startGitServer } from './support/git-server';
import { spawnEntry } from './support/processes';
import { createTestPki, type TestPki } from './support/tls';
import { startTestVault, type TestVault } from './support/vault';

jest.setTimeout(90_000);

const REAL_GIT_TOKEN = 'ghp_realBootTestToken55555';
let pki: TestPki;
let git: Awaited<ReturnType<typeof startGitServer>>;
let vault: TestVault;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  const root = path.join(pki.dir, 'git-host');
  createBareRepo(root, 'main', { 'README.md': 'hello\n' });
  git = await startGitServer(root, pki.upstreamServerCert, REAL_GIT_TOKEN);
  vault = await startTestVault(pki);
  const pushed = await vault.pushSecrets({
    secrets: { GIT_TOKEN: { value: REAL_GIT_TOKEN, hosts: ['127.0.0.2'] } },
  });
  stubs = pushed.body.stubs;
});

afterAll(async () => {
  await vault?.close();
  await git?.close();
});

const toolEnv = () => ({
  PATH: process.env.PATH!,
  HOME: pki.dir,
  HTTPS_PROXY: vault.proxyUrl,
  https_proxy: vault.proxyUrl,
  GIT_SSL_CAINFO: pki.deploymentCaPath,
});

it('clones through the vault with the stub token (the vault adds the real one)', async () => {
  const workspace = path.join(pki.dir, 'clone-ok');
  await cloneRepository(`${git.url}/repo.git`, 'main', workspace, stubs.GIT_TOKEN, toolEnv());
  expect(fs.readFileSync(path.join(workspace, 'README.md'), 'utf8')).toBe('hello\n');
});

it('fails clearly when the git host refuses the clone (no token)', async () => {
  const error = await cloneRepository(
    `${git.url}/repo.git`,
    'main',
    path.join(pki.dir, 'clone-denied'),
    undefined,
    toolEnv(),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BootError);
  expect((error as Error).message).toMatch(
    /git clone of https:\/\/127\.0\.0\.2:\d+\/repo\.git \(branch main\) failed: .*(401|Authentication|could not read Username)/,
  );
});

it('fails clearly when pip is not installed', async () => {
  const error = await installRequirements('requests==2.32.3', {
    PATH: path.join(pki.dir, 'empty-bin'),
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BootError);
  expect((error as Error).message).toMatch(/pip is not available in the harness image/);
});

it('resolves file paths: ~ is HOME, relative is the workspace', () => {
  expect(resolveFilePath('~/.claude/skills/x/SKILL.md', '/home/agent', '/workspace')).toBe(
    '/home/agent/.claude/skills/x/SKILL.md',
  );
  expect(resolveFilePath('notes/a.txt', '/home/agent', '/workspace')).toBe('/workspace/notes/a.txt');
  expect(resolveFilePath('/etc/agent.conf', '/home/agent', '/workspace')).toBe('/etc/agent.conf');
});

it('rejects a bad environment with one error naming every bad key', () => {
  expect(() => loadHarnessConfig({ HARNESS_ID: 'vim', CALLBACK_URL: 'not a url' })).toThrow(
    /SANDBOX_ID[\s\S]*HARNESS_ID: must be one of opencode[\s\S]*HARNESS_TOKEN[\s\S]*CALLBACK_URL/,
  );
});

it('reports phase failed with the reason when the branch does not exist, then exits', async () => {
  const sandboxId = 'b0b0b0b0-0000-4000-8000-000000000001';
  const callbackToken = 'callback-token-boot-0123456789abcdef';
  const spec: SandboxBootSpec = {
    sandbox_id: sandboxId,
    agent_id: 'a',
    harness_id: 'opencode',
    model: 'm',
    prompt: '',
    repo_url: `${git.url}/repo.git`,
    branch: 'no-such-branch',
    requirements: null,
    mcp_servers: [],
    litellm_api_base: 'https://localhost:1',
    files: [],
  };
  const platform = await startFakePlatform(spec, callbackToken);
  const harness = spawnEntry('sandbox/harness/src/main.ts', {
    PATH: process.env.PATH!,
    SANDBOX_ID: sandboxId,
    HARNESS_ID: 'opencode',
    PORT: '0',
    HARNESS_TOKEN: 'harness-token-boot-0123456789abcdef',
    CALLBACK_URL: platform.url,
    CALLBACK_TOKEN: callbackToken,
    VAULT_ENV_FILE: vault.envFile,
    WORKSPACE_DIR: path.join(pki.dir, 'boot-fail-workspace'),
    HOME: path.join(pki.dir, 'boot-fail-home'),
    HTTPS_PROXY: vault.proxyUrl,
    NO_PROXY: '',
    NODE_EXTRA_CA_CERTS: pki.deploymentCaPath,
  });
  try {
    const exitCode = await new Promise<number | null>((resolve) => harness.child.once('exit', resolve));
    expect(exitCode).toBe(1);
    expect(platform.phases[0]).toEqual({ phase: 'cloning_repo', detail: spec.repo_url });
    const failed = platform.phases.at(-1)!;
    expect(failed.phase).toBe('failed');
    expect(failed.failure_reason).toMatch(
      /git clone of .* \(branch no-such-branch\) failed: .*no-such-branch/,
    );
  } finally {
    await harness.stop();
    await platform.close();
  }
});
