/**
 * Private repositories in local mode: the operator sets GIT_TOKEN (and GIT_TOKEN_HOSTS) on the
 * platform, the local launcher hands it to each sandbox's vault (REAL_/HOST_GIT_TOKEN), the real
 * harness clones with the vault's stub and the vault swaps the real token in for the git host only.
 * The git host (git http-backend over HTTPS) refuses any request without the real token.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../platform/src/config';
import { createBareRepo, startGitServer, type GitServer } from '../../sandbox/support/git-server';
import { createTestPki, type TestPki } from '../../sandbox/support/tls';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import {
  BASE,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';
import { configProblems, VALID_PLATFORM_ENV } from './support/platform-env';

const REAL_GIT_TOKEN = 'ghp_realPlatformGitToken24680';
describe('GIT_TOKEN platform setting', () => {
  it('is optional; its hosts default to github.com and take a comma list', () => {
    expect(loadConfig(VALID_PLATFORM_ENV).git).toEqual({ token: undefined, hosts: ['github.com'] });
    expect(
      loadConfig({
        ...VALID_PLATFORM_ENV,
        GIT_TOKEN: REAL_GIT_TOKEN,
        GIT_TOKEN_HOSTS: 'github.com, *.gitlab.example.com',
      }).git,
    ).toEqual({ token: REAL_GIT_TOKEN, hosts: ['github.com', '*.gitlab.example.com'] });
  });

  it('rejects hosts the vault cannot bind, and GIT_TOKEN with the ECS launcher, never echoing the token', () => {
    const problems = configProblems({
      ...VALID_PLATFORM_ENV,
      GIT_TOKEN: REAL_GIT_TOKEN,
      GIT_TOKEN_HOSTS: 'github.com,not a host',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^GIT_TOKEN_HOSTS must be a comma list of git hosts.*not a host/),
    ]);
    const ecs = configProblems({ ...VALID_PLATFORM_ENV, GIT_TOKEN: REAL_GIT_TOKEN, SANDBOX_LAUNCHER: 'ecs' });
    expect(ecs).toContainEqual(
      expect.stringMatching(/^GIT_TOKEN is for local sandboxes only.*git\.tokenSecretArn/),
    );
    expect([...problems, ...ecs].join('\n')).not.toContain(REAL_GIT_TOKEN);
  });
});

describe('cloning a private repository in local mode', () => {
  let pki: TestPki;
  let git: GitServer;
  let gateway: FakeLlmGateway;
  let fx: RuntimeFixture;

  beforeAll(async () => {
    pki = createTestPki();
    const root = path.join(pki.dir, 'git-host');
    createBareRepo(root, 'main', { 'README.md': 'private hello\n' });
    git = await startGitServer(root, pki.upstreamServerCert, REAL_GIT_TOKEN);
    gateway = await startFakeLlmGateway();
    // The platform's own config decides what the vaults get: a host list (the vault binds the token
    // to each), with the git server on 127.0.0.2 second.
    const config = loadConfig({
      ...VALID_PLATFORM_ENV,
      GIT_TOKEN: REAL_GIT_TOKEN,
      GIT_TOKEN_HOSTS: 'github.com,127.0.0.2',
    });
    fx = await startRuntimeFixture({
      realHarness: { gatewayUrl: `${gateway.url}/v1`, gatewayKey: 'sk-real-gateway-key-private-repo' },
      git: config.git,
      // The vault verifies the git host's certificate (issued by the test "internet" CA).
      sandboxEnv: { VAULT_UPSTREAM_CA_PATH: pki.upstreamCaPath },
      creatingTimeoutMs: 120_000,
    });
  });
  afterAll(async () => {
    await fx?.close();
    await gateway?.close();
    await git?.close();
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it('clones through the vault with the real token swapped in, while the harness only ever holds the stub', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'test-model',
      harness_id: 'opencode',
      prompt: 'Be brief.',
      repo_url: `${git.url}/repo.git`,
    });
    expect(agent.status).toBe(201);
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
    const sessionId = created.body.id;
    const ready = await waitForStatus(fx, sessionId, ['ready', 'failed'], 90_000);
    const sandboxDir = path.join(fx.dataDir, 'sandboxes', sessionId);
    const log = fs.readFileSync(path.join(sandboxDir, 'sandbox.log'), 'utf8');
    if (ready.status !== 'ready') console.log(log.split('\n').slice(-40).join('\n'));
    expect(ready.failure_reason).toBeNull();
    expect(ready.status).toBe('ready');

    // The checkout is there, and the git host saw only the real token (never the stub).
    const workspace = path.join(sandboxDir, 'workspace');
    expect(fs.readFileSync(path.join(workspace, 'README.md'), 'utf8')).toBe('private hello\n');
    const passwords = git.authorizations.filter(Boolean).map(
      (a) =>
        Buffer.from(a.replace(/^Basic /i, ''), 'base64')
          .toString()
          .split(':')[1],
    );
    expect(passwords.length).toBeGreaterThan(0);
    expect(new Set(passwords)).toEqual(new Set([REAL_GIT_TOKEN]));

    // What the harness was given: a stub in the vault's env file, nothing real in its process
    // environment, its checkout or the sandbox logs.
    const stubEnv = fs.readFileSync(path.join(sandboxDir, 'env', 'vault.env'), 'utf8');
    expect(stubEnv).toMatch(/^GIT_TOKEN=stub_git_token_[0-9a-f]{16}$/m);
    const { pids } = JSON.parse(fs.readFileSync(path.join(sandboxDir, 'sandbox.json'), 'utf8')) as {
      pids: { harness: number };
    };
    const harnessEnviron = fs.readFileSync(`/proc/${pids.harness}/environ`, 'utf8');
    expect(harnessEnviron).toContain('VAULT_ENV_FILE=');
    for (const seen of [
      stubEnv,
      harnessEnviron,
      log,
      fs.readFileSync(path.join(workspace, '.git/config'), 'utf8'),
    ])
      expect(seen).not.toContain(REAL_GIT_TOKEN);

    const stopped = await fx.api<ApiSessionBody>('POST', `${BASE}/sessions/${sessionId}/stop`);
    expect(stopped.body.status).toBe('dead');
  }, 150_000);
});
