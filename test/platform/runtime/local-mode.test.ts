/**
 * `npm run local` end to end: start, healthz, a session on the real vault and harness
 * (opencode, answering through a fake LiteLLM gateway),
 * SIGTERM, restart on the same data, and the data-directory secrecy check: no
 * agent secret, per-session secret or gateway key in plain text in any file under
 * LAP_DATA_DIR (PostgreSQL's data and WAL included).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../../../platform/src/sandbox/local/free-port';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import { filesContaining } from '../../support/files-on-disk';
import { killLocalMode, localApi, startLocalMode, waitHealthy, type LocalMode } from './support/local-mode';

describe('local mode (npm run local)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-local-'));
  const tag = crypto.randomBytes(6).toString('hex');
  const secrets = {
    agent: `agentsecret_${tag}`,
    session: `sessionsecret_${tag}`,
    gateway: `sk-gateway_${tag}`,
  };
  const marker = `visible-agent-name-${tag}`;
  let port: number;
  let mode: LocalMode | undefined;
  let gateway: FakeLlmGateway | undefined;

  afterAll(async () => {
    await killLocalMode(mode);
    await gateway?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts, serves a session, stops cleanly on SIGTERM, keeps data, and never stores secrets in plain text', async () => {
    port = await freeLoopbackPort();
    gateway = await startFakeLlmGateway();
    mode = startLocalMode(dataDir, port, {
      LITELLM_API_BASE: `${gateway.url}/v1`,
      LITELLM_API_KEY: secrets.gateway,
    });
    await waitHealthy(port, mode);
    const printed = /MASTER_KEY=(\S+)/.exec(mode.output());
    expect(printed).not.toBeNull();
    const key = printed![1]!;
    const api = localApi(port, () => key);
    expect((await api('GET', '/api/v1/managed_agents/agents')).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/managed_agents/agents`)).status).toBe(401);

    const agent = await api<{ id: string }>('POST', '/api/v1/managed_agents/agents', {
      model: 'test-model',
      harness_id: 'opencode',
      name: marker,
      env_vars: { GITHUB_TOKEN: secrets.agent },
    });
    expect(agent.status).toBe(201);
    const session = await api<{ id: string }>(
      'POST',
      `/api/v1/managed_agents/agents/${agent.body.id}/session`,
      {
        env_vars: { CI_TOKEN: secrets.session },
      },
    );
    expect(session.status).toBe(201);
    let status = '';
    for (let i = 0; i < 480 && status !== 'ready' && status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await api<{ status: string }>('GET', `/api/v1/managed_agents/sessions/${session.body.id}`))
        .body.status;
    }
    if (status !== 'ready') {
      const tail = mode.output().split('\n').slice(-30).join('\n');
      throw new Error(`session not ready (status ${status}); local mode output:\n${tail}`);
    }
    const reply = await api<{ parts: unknown[] }>(
      'POST',
      `/v1/managed_agents/sessions/${session.body.id}/message`,
      {
        text: 'hi',
      },
    );
    expect(JSON.stringify(reply.body)).toContain('fake-llm: hi');
    // The harness held a stub; the vault swapped the real gateway key in on the way out.
    expect(gateway.credentials().length).toBeGreaterThan(0);
    expect(gateway.credentials().every((a) => a.includes(secrets.gateway))).toBe(true);

    mode.child.kill('SIGTERM');
    expect(await mode.exited).toBe(0);
    expect(mode.output()).toMatch(/"msg":"stopped"/);

    // Secrecy: every file of the data directory, PostgreSQL's heap and WAL included.
    expect(filesContaining([dataDir], marker).length).toBeGreaterThan(0); // the scan does see database contents
    expect(filesContaining([dataDir], secrets.agent)).toEqual([]);
    expect(filesContaining([dataDir], secrets.session)).toEqual([]);
    expect(filesContaining([dataDir], secrets.gateway)).toEqual([]);
    // ... nor in local mode's own logs (sandbox logs are under the data dir, checked above).
    for (const value of Object.values(secrets)) expect(mode.output()).not.toContain(value);
    expect(fs.statSync(path.join(dataDir, 'local-secrets.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'ca/ca-key.pem')).mode & 0o777).toBe(0o600);

    // Restart on the same data: same key (not printed again), the agent is still there, the session ended.
    mode = startLocalMode(dataDir, port, { LITELLM_API_BASE: `${gateway.url}/v1` });
    await waitHealthy(port, mode);
    expect(mode.output()).not.toMatch(/MASTER_KEY=/);
    expect(
      (await api<{ name: string }>('GET', `/api/v1/managed_agents/agents/${agent.body.id}`)).body.name,
    ).toBe(marker);
    const after = await api<{ status: string; failure_reason: string }>(
      'GET',
      `/api/v1/managed_agents/sessions/${session.body.id}`,
    );
    expect(after.body).toMatchObject({
      status: 'dead',
      failure_reason: 'local mode stopped: its sandboxes were stopped',
    });
    mode.child.kill('SIGINT');
    expect(await mode.exited).toBe(0);
  });
});
