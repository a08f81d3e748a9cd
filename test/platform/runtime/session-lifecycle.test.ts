import fs from 'node:fs';
import path from 'node:path';
import {
  BASE,
  sandboxRefOf,
  startRuntimeFixture,
  waitFor,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

describe('session lifecycle through the local launcher', () => {
  let fx: RuntimeFixture;
  let agentId: string;

  beforeAll(async () => {
    fx = await startRuntimeFixture();
    // Record every phase a session passes through, in commit order, with a trigger.
    await fx.pool.query(`CREATE TABLE phase_log (seq bigserial, session_id uuid, phase text, status text);
      CREATE FUNCTION log_phase() RETURNS trigger AS $$ BEGIN
        IF NEW.phase IS DISTINCT FROM OLD.phase OR NEW.status IS DISTINCT FROM OLD.status THEN
          INSERT INTO phase_log (session_id, phase, status) VALUES (NEW.id, NEW.phase, NEW.status);
        END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER sessions_phase_log AFTER UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION log_phase();`);
    const skill = await fx.api<{ id: string }>('POST', '/api/v1/skills', {
      name: 'Code Review',
      description: 'How we review',
      content: 'Always check error handling.',
    });
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'anthropic/claude-haiku-4-5',
      name: 'lifecycle',
      prompt: 'You are a reviewer.',
      env_vars: { GITHUB_TOKEN: 'ghp_agentlevelvalue' },
      skill_ids: [skill.body.id],
      sandbox_files: [
        {
          name: 'notes.txt',
          sandbox_path: '~/notes.txt',
          content: Buffer.from('hello').toString('base64'),
          size: 5,
        },
      ],
    });
    expect(agent.status).toBe(201);
    agentId = agent.body.id;
  });

  afterAll(async () => {
    await fx?.close();
  });

  it('creates at once, walks the phases in order, and becomes ready with the boot spec applied', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
      title: 't1',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'creating', phase: 'creating_sandbox' });
    const ready = await waitForStatus(fx, created.body.id, ['ready', 'failed']);
    expect(ready.failure_reason).toBeNull();
    expect(ready.status).toBe('ready');
    expect(await sandboxRefOf(fx, created.body.id)).toBe(`local:${created.body.id}`);

    const { rows } = await fx.pool.query<{ phase: string }>(
      'SELECT phase FROM phase_log WHERE session_id = $1 ORDER BY seq',
      [created.body.id],
    );
    const phases = rows.map((r) => r.phase);
    expect(phases).toEqual([
      'pod_pending',
      'pod_running',
      'injecting_files',
      'waiting_harness',
      'harness_ready',
      'cloning_repo',
      'installing_deps',
      'harness_listening',
      'ready',
    ]);

    const home = path.join(fx.dataDir, 'sandboxes', created.body.id, 'home');
    expect(fs.readFileSync(path.join(home, '.claude/skills/code-review/SKILL.md'), 'utf8')).toContain(
      'Always check error handling.',
    );
    expect(fs.readFileSync(path.join(home, 'notes.txt'), 'utf8')).toBe('hello');
    const prompt = fs.readFileSync(path.join(home, 'prompt.txt'), 'utf8');
    expect(prompt).toMatch(
      /^You are a reviewer\.\n\n<!-- skill:[0-9a-f-]+ -->\nAlways check error handling\./,
    );
    // The harness saw only a stub of the agent's secret.
    const stubs = fs.readFileSync(
      path.join(fx.dataDir, 'sandboxes', created.body.id, 'env', 'vault.env'),
      'utf8',
    );
    expect(stubs).toMatch(/^GITHUB_TOKEN=stub_github_token_[0-9a-f]+$/m);
    expect(stubs).not.toContain('ghp_agentlevelvalue');
  });

  it('sends messages, stores the response, resets last_seen_at, and streams events (?follow=1: the raw stream)', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready']);
    const before = await fx.api<{ last_seen_at: string }>('GET', `${BASE}/sessions/${created.body.id}`);

    const events = await fetch(
      `${fx.baseUrl}/v1/managed_agents/sessions/${created.body.id}/events?follow=1`,
      {
        headers: { authorization: 'Bearer test-master-key' },
      },
    );
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    const reader = events.body!.getReader();
    let streamed = '';
    const sawTurnDone = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        streamed += Buffer.from(value).toString('utf8');
        if (streamed.includes('event: turn_done')) return true;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));

    const reply = await fx.api<{ parts: Array<{ type: string; text: string }> }>(
      'POST',
      `${BASE}/sessions/${created.body.id}/message`,
      { text: 'hello there' },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.parts).toEqual([{ type: 'text', text: 'echo: hello there' }]);
    expect(await sawTurnDone).toBe(true);
    expect(streamed).toContain('"text":"echo: hello there"');
    await reader.cancel();

    const parts = await fx.api('POST', `${BASE}/sessions/${created.body.id}/message`, {
      parts: [{ type: 'text', text: 'as parts' }],
    });
    expect(parts.body).toEqual({ parts: [{ type: 'text', text: 'echo: as parts' }] });
    const after = await fx.api<ApiSessionBody & { last_seen_at: string }>(
      'GET',
      `${BASE}/sessions/${created.body.id}`,
    );
    expect(after.body.response).toEqual({ parts: [{ type: 'text', text: 'echo: as parts' }] });
    expect(Date.parse(after.body.last_seen_at)).toBeGreaterThan(Date.parse(before.body.last_seen_at));
  });

  it('a message to a creating session waits for ready; bad bodies are 400, unknown sessions 404', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    const early = await fx.api<{ parts: unknown[] }>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'x',
    });
    expect(early.status).toBe(200);
    expect(early.body.parts).toEqual([{ type: 'text', text: 'echo: x' }]);
    const both = await fx.api<{ error: string }>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'x',
      parts: [{ type: 'text', text: 'y' }],
    });
    expect(both.status).toBe(400);
    expect(both.body.error).toMatch(/either text or parts/);
    const neither = await fx.api<{ error: string }>(
      'POST',
      `${BASE}/sessions/${created.body.id}/message`,
      {},
    );
    expect(neither.status).toBe(400);
    const missing = await fx.api('POST', `${BASE}/sessions/00000000-0000-4000-8000-000000000000/message`, {
      text: 'x',
    });
    expect(missing.status).toBe(404);
    await waitForStatus(fx, created.body.id, ['ready']);
  });

  it('answers 502 when the harness fails a turn, and marks the session dead when the harness is gone', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready']);
    const failed = await fx.api<{ error: string }>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'fail',
    });
    expect(failed.status).toBe(502);
    expect((await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${created.body.id}`)).body.status).toBe(
      'ready',
    );
    const crashed = await fx.api<{ error: string }>('POST', `${BASE}/sessions/${created.body.id}/message`, {
      text: 'crash',
    });
    expect(crashed.status).toBe(502);
    const dead = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${created.body.id}`);
    expect(dead.body.status).toBe('dead');
    expect(dead.body.failure_reason).toMatch(/unreachable|lost|harness exited/);
  });

  it('a sandbox that stops on its own ends its ready session (dead, with the reason)', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready']);
    const registry = path.join(fx.dataDir, 'sandboxes', created.body.id, 'sandbox.json');
    const { pids } = JSON.parse(fs.readFileSync(registry, 'utf8')) as { pids: { harness: number } };
    process.kill(pids.harness, 'SIGKILL');
    const dead = await waitForStatus(fx, created.body.id, ['dead']);
    expect(dead.failure_reason).toBe('sandbox stopped: harness exited with signal SIGKILL');
  });

  it('delivers initial_prompt once ready and stores the reply in response', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
      initial_prompt: 'what is this repo?',
    });
    const withReply = await waitFor(async () => {
      const { body } = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${created.body.id}`);
      return body.response ? body : null;
    });
    expect(withReply.status).toBe('ready');
    expect(withReply.response).toEqual({ parts: [{ type: 'text', text: 'echo: what is this repo?' }] });
  });

  it('records why an initial_prompt got no reply, so clients waiting for it stop waiting', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {
      initial_prompt: 'fail',
    });
    const withReply = await waitFor(async () => {
      const { body } = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${created.body.id}`);
      return body.response ? body : null;
    });
    expect(withReply.status).toBe('ready');
    expect(withReply.response?.parts).toHaveLength(1);
    expect(withReply.response?.parts[0]).toMatchObject({ type: 'error' });
    expect(String(withReply.response?.parts[0]?.text)).toMatch(
      /^initial prompt failed: harness answered HTTP 500/,
    );
  });

  it('stops (200, dead, sandbox stopped) and deletes idempotently (204, 404 only if it never existed)', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready']);
    const sandbox = await sandboxRefOf(fx, created.body.id);
    const stopped = await fx.api<ApiSessionBody>('POST', `${BASE}/sessions/${created.body.id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.status).toBe('dead');
    expect(stopped.body.failure_reason).toBeNull();
    expect((await fx.launcher.describe(sandbox))?.lifecycle).toBe('stopped');
    expect((await fx.api('DELETE', `${BASE}/sessions/${created.body.id}`)).status).toBe(204);
    expect((await fx.api('DELETE', `${BASE}/sessions/${created.body.id}`)).status).toBe(204);
    expect((await fx.api('POST', `${BASE}/sessions/${created.body.id}/stop`)).status).toBe(200);
    const never = await fx.api<{ error: string }>(
      'DELETE',
      `${BASE}/sessions/00000000-0000-4000-8000-000000000000`,
    );
    expect(never.status).toBe(404);
    expect(never.body.error).toBe("session '00000000-0000-4000-8000-000000000000' not found");
    expect((await fx.api('DELETE', `${BASE}/sessions/not-a-uuid`)).status).toBe(404);
  });

  it('deleting a session while it is creating stops its sandbox once bring-up notices', async () => {
    const created = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agentId}/session`, {});
    expect((await fx.api('DELETE', `${BASE}/sessions/${created.body.id}`)).status).toBe(204);
    const ref = `local:${created.body.id}`;
    await waitFor(async () => {
      const state = await fx.launcher.describe(ref);
      return !state || state.lifecycle === 'stopped';
    });
    await new Promise((r) => setTimeout(r, 500));
    const { body } = await fx.api<ApiSessionBody>('GET', `${BASE}/sessions/${created.body.id}`);
    expect(body.status).toBe('dead');
  });

  it('lists sessions newest first with pagination', async () => {
    const page = await fx.api<{
      data: Array<{ id: string; agent_name: string }>;
      total: number;
      limit: number;
      offset: number;
    }>('GET', `${BASE}/sessions?limit=2&offset=0`);
    expect(page.status).toBe(200);
    expect(page.body.limit).toBe(2);
    expect(page.body.data).toHaveLength(2);
    expect(page.body.total).toBeGreaterThanOrEqual(6);
    expect(page.body.data[0]!.agent_name).toBe('lifecycle');
    const clamped = await fx.api<{ limit: number }>('GET', `${BASE}/sessions?limit=5000`);
    expect(clamped.body.limit).toBe(200);
  });

  it('stopAllForAgent (agent delete) kills every live session and sandbox of the agent', async () => {
    const agent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', name: 'doomed' });
    const s = await fx.api<ApiSessionBody>('POST', `${BASE}/agents/${agent.body.id}/session`, {});
    await waitForStatus(fx, s.body.id, ['ready']);
    expect((await fx.api('DELETE', `${BASE}/agents/${agent.body.id}`)).status).toBe(204);
    expect(await fx.launcher.listByTags({ 'lap:agent-id': agent.body.id })).toEqual([]);
  });
});
