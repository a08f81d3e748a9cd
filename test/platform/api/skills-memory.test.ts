import { buildAgentPrompt } from '../../../platform/src/agents/prompt';
import { listEnabledMemories } from '../../../platform/src/db/memories';
import { listAgentSkills } from '../../../platform/src/db/skills';
import { startTestApi, type TestApi } from './test-api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const AGENTS = '/api/v1/managed_agents/agents';
const SKILLS = '/api/v1/skills';

async function ok(method: string, url: string, payload?: unknown, status = 200) {
  const res = await api.call({ method, url, payload });
  if (res.statusCode !== status)
    throw new Error(`${method} ${url}: expected ${status}, got ${res.statusCode}: ${res.body}`);
  return res.body ? res.json() : undefined;
}

describe('skills library', () => {
  test('create, get, list newest first, patch, delete', async () => {
    const a = await ok('POST', SKILLS, { name: 'review', content: '# Review\nBe terse.' }, 201);
    expect(a).toMatchObject({ name: 'review', content: '# Review\nBe terse.', description: null });
    const b = await ok(
      'POST',
      '/v1/skills',
      { name: 'tests', content: 'Write tests.', description: 'd' },
      201,
    );
    expect(await ok('GET', `${SKILLS}/${a.id}`)).toEqual(a);

    const list = await ok('GET', SKILLS);
    expect(list.total).toBe(2);
    expect(list.data.map((s: { id: string }) => s.id)).toEqual([b.id, a.id]);

    const patched = await ok('PATCH', `${SKILLS}/${a.id}`, { description: 'now described' });
    expect(patched).toMatchObject({ name: 'review', description: 'now described', content: a.content });
    expect(await ok('PATCH', `${SKILLS}/${a.id}`, {})).toEqual(patched);

    await ok('DELETE', `${SKILLS}/${b.id}`, undefined, 204);
    const gone = await api.call({ method: 'GET', url: `${SKILLS}/${b.id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toEqual({ error: `skill '${b.id}' not found` });
    expect((await api.call({ method: 'DELETE', url: `${SKILLS}/${b.id}` })).statusCode).toBe(404);
    await ok('DELETE', `${SKILLS}/${a.id}`, undefined, 204);
  });

  test('validation names the field', async () => {
    for (const [payload, message] of [
      [{ content: 'x' }, 'name: is required'],
      [{ name: 'x' }, 'content: is required'],
      [{ name: 'x', content: '   ' }, 'content: must not be empty'],
      [{ name: 'x', content: 'y', description: 5 }, 'description: '],
    ] as const) {
      const res = await api.call({ method: 'POST', url: SKILLS, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toContain(message);
    }
  });
});

describe('attach and detach', () => {
  test('skill_ids on create, attach by id and inline, in attach order, as prompt blocks', async () => {
    const s1 = await ok('POST', SKILLS, { name: 'one', content: 'Skill one.' }, 201);
    const s2 = await ok('POST', SKILLS, { name: 'two', content: 'Skill two.' }, 201);
    const agent = await ok(
      'POST',
      AGENTS,
      { model: 'm', prompt: 'Base prompt.', skill_ids: [s2.id, s1.id] },
      201,
    );
    expect(agent.attached_skill_ids).toEqual([s2.id, s1.id]);

    const inline = await ok('POST', `${AGENTS}/${agent.id}/skill`, {
      content: '# Inline skill\nDo it inline.',
    });
    expect(inline.skill).toMatchObject({ name: 'Inline skill', content: '# Inline skill\nDo it inline.' });
    expect(await ok('GET', `${SKILLS}/${inline.skill.id}`)).toEqual(inline.skill); // saved to the library

    const unsaved = await ok('POST', `${AGENTS}/${agent.id}/skill`, {
      content: 'Private.',
      name: 'private',
      save_to_library: false,
    });
    expect(unsaved.skill).toBeUndefined();
    const privateId = unsaved.agent.attached_skill_ids[3];
    expect((await api.call({ method: 'GET', url: `${SKILLS}/${privateId}` })).statusCode).toBe(404);
    expect(unsaved.agent.attached_skill_ids).toEqual([s2.id, s1.id, inline.skill.id, privateId]);

    // The agent embeds its own copy: editing or deleting the library skill changes nothing.
    await ok('PATCH', `${SKILLS}/${s1.id}`, { content: 'Changed in the library.' });
    await ok('DELETE', `${SKILLS}/${s2.id}`, undefined, 204);
    const skills = await listAgentSkills(api.pool, agent.id);
    const prompt = buildAgentPrompt({ prompt: 'Base prompt.' }, skills, []);
    expect(prompt).toBe(
      [
        'Base prompt.',
        `<!-- skill:${s2.id} -->\nSkill two.`,
        `<!-- skill:${s1.id} -->\nSkill one.`,
        `<!-- skill:${inline.skill.id} -->\n# Inline skill\nDo it inline.`,
        `<!-- skill:${privateId} -->\nPrivate.`,
      ].join('\n\n'),
    );

    // Attaching again refreshes the copy and keeps the place.
    const again = await ok('POST', `${AGENTS}/${agent.id}/skill`, { skill_id: s1.id });
    expect(again.agent.attached_skill_ids).toEqual([s2.id, s1.id, inline.skill.id, privateId]);
    expect((await listAgentSkills(api.pool, agent.id))[1].content).toBe('Changed in the library.');

    const detached = await ok('DELETE', `${AGENTS}/${agent.id}/skill?skill_id=${s2.id}`);
    expect(detached.agent.attached_skill_ids).toEqual([s1.id, inline.skill.id, privateId]);
    const notAttached = await api.call({
      method: 'DELETE',
      url: `${AGENTS}/${agent.id}/skill?skill_id=${s2.id}`,
    });
    expect(notAttached.statusCode).toBe(404);
    expect(notAttached.json()).toEqual({ error: `skill '${s2.id}' is not attached to agent '${agent.id}'` });

    const none = await ok('DELETE', `${AGENTS}/${agent.id}/skill`);
    expect(none.agent.attached_skill_ids).toEqual([]);
    // New attaches after a full detach start over at the end.
    const last = await ok('POST', `${AGENTS}/${agent.id}/skill`, { skill_id: s1.id });
    expect(last.agent.attached_skill_ids).toEqual([s1.id]);
  });

  test('concurrent attaches get distinct positions', async () => {
    const agent = await ok('POST', AGENTS, { model: 'm' }, 201);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        ok('POST', `${AGENTS}/${agent.id}/skill`, { content: `Skill ${i}` }),
      ),
    );
    const ids = results.map((r) => r.skill.id);
    const final = await ok('GET', `${AGENTS}/${agent.id}`);
    expect([...final.attached_skill_ids].sort()).toEqual([...ids].sort());
    const positions = (await listAgentSkills(api.pool, agent.id)).map((s) => s.position);
    expect(new Set(positions).size).toBe(8);
  });

  test('attach errors: unknown agent, unknown skill, neither or both of skill_id and content', async () => {
    const agent = await ok('POST', AGENTS, { model: 'm' }, 201);
    const missingAgent = await api.call({
      method: 'POST',
      url: `${AGENTS}/00000000-0000-4000-8000-000000000001/skill`,
      payload: { content: 'x' },
    });
    expect(missingAgent.statusCode).toBe(404);
    expect(missingAgent.json()).toEqual({ error: "agent '00000000-0000-4000-8000-000000000001' not found" });
    const missingSkill = await api.call({
      method: 'POST',
      url: `${AGENTS}/${agent.id}/skill`,
      payload: { skill_id: 'nope' },
    });
    expect(missingSkill.statusCode).toBe(404);
    expect(missingSkill.json()).toEqual({ error: "skill 'nope' not found" });
    for (const payload of [{}, { skill_id: 'a', content: 'b' }]) {
      const res = await api.call({ method: 'POST', url: `${AGENTS}/${agent.id}/skill`, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toContain('give either skill_id or content');
    }
    const badFlag = await api.call({
      method: 'POST',
      url: `${AGENTS}/${agent.id}/skill`,
      payload: { content: 'x', save_to_library: 'yes' },
    });
    expect(badFlag.json()).toEqual({ error: 'save_to_library: must be a boolean' });
  });
});

describe('memory', () => {
  test('create with defaults, search by text and tag, counters bump on every read', async () => {
    const agent = await ok('POST', AGENTS, { model: 'm' }, 201);
    const url = `${AGENTS}/${agent.id}/memory`;
    const low = await ok('POST', url, { text: 'Use pnpm, not npm', tags: ['tooling'] }, 201);
    expect(low).toMatchObject({
      text: 'Use pnpm, not npm',
      tags: ['tooling'],
      type: null,
      priority: 0,
      source: 'ui',
      disabled: false,
      times_applied: 0,
      last_applied_at: null,
    });
    const high = await ok(
      'POST',
      url,
      { text: 'Never push to main', priority: 10, source: 'slack', type: 'rule' },
      201,
    );
    await ok('POST', url, { text: 'Tests live in test/', tags: ['tooling', 'layout'], priority: 5 }, 201);

    const all = await ok('GET', url);
    expect(all.data.map((m: { text: string }) => m.text)).toEqual([
      'Never push to main',
      'Tests live in test/',
      'Use pnpm, not npm',
    ]);
    expect(all.data.every((m: { times_applied: number }) => m.times_applied === 1)).toBe(true);
    expect(all.data.every((m: { last_applied_at: string | null }) => m.last_applied_at !== null)).toBe(true);

    const byText = await ok('GET', `${url}?q=PNPM`);
    expect(byText.data.map((m: { id: string }) => m.id)).toEqual([low.id]);
    expect(byText.data[0].times_applied).toBe(2);
    const byTag = await ok('GET', `${url}?tag=tooling`);
    expect(byTag.data).toHaveLength(2);
    expect((await ok('GET', `${url}?tag=tool`)).data).toHaveLength(0); // exact tag, not substring

    const after = await ok('GET', `${url}?q=push`);
    expect(after.data[0]).toMatchObject({ id: high.id, times_applied: 2 });
  });

  test('patch (incl. disabled) and delete; disabled memories stay out of the prompt', async () => {
    const agent = await ok('POST', AGENTS, { model: 'm', prompt: 'P.' }, 201);
    const url = `${AGENTS}/${agent.id}/memory`;
    const a = await ok('POST', url, { text: 'low', priority: 1 }, 201);
    const b = await ok('POST', url, { text: 'high', priority: 9 }, 201);
    const c = await ok('POST', url, { text: 'off', priority: 50 }, 201);
    const disabled = await ok('PATCH', `${url}/${c.id}`, { disabled: true, tags: ['x'] });
    expect(disabled).toMatchObject({ disabled: true, tags: ['x'], text: 'off' });
    expect(await ok('PATCH', `${url}/${c.id}`, {})).toMatchObject({ disabled: true });

    const memories = await listEnabledMemories(api.pool, agent.id);
    expect(memories.map((m) => m.id)).toEqual([b.id, a.id]);
    expect(buildAgentPrompt({ prompt: 'P.' }, [], memories)).toBe(
      'P.\n\n<!-- memories -->\nThings to remember about this work:\n- high\n- low',
    );

    await ok('DELETE', `${url}/${a.id}`, undefined, 204);
    const gone = await api.call({ method: 'DELETE', url: `${url}/${a.id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toEqual({ error: `memory '${a.id}' not found` });

    // A memory is reachable only through its own agent.
    const other = await ok('POST', AGENTS, { model: 'm' }, 201);
    const cross = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${other.id}/memory/${b.id}`,
      payload: { text: 'x' },
    });
    expect(cross.statusCode).toBe(404);
  });

  test('validation: text, tags, priority, source', async () => {
    const agent = await ok('POST', AGENTS, { model: 'm' }, 201);
    const url = `${AGENTS}/${agent.id}/memory`;
    for (const [payload, message] of [
      [{}, 'text: is required'],
      [{ text: '' }, 'text: must be at least 1 character'],
      [{ text: 'x', tags: ['1', '2', '3', '4', '5', '6', '7', '8', '9'] }, 'tags: at most 8 tags'],
      [{ text: 'x', priority: 1.5 }, 'priority: must be an integer'],
      [{ text: 'x', priority: '3' }, 'priority: must be an integer'],
      [{ text: 'x', priority: 1e12 }, 'priority: too large'],
      [{ text: 'x', source: 'email' }, 'source: must be one of agent, slack, ui'],
      [{ text: 'x', tags: 'a' }, 'tags: '],
    ] as const) {
      const res = await api.call({ method: 'POST', url, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toContain(message);
    }
    const patch = await api.call({
      method: 'PATCH',
      url: `${url}/00000000-0000-4000-8000-000000000000`,
      payload: { disabled: 'no' },
    });
    expect(patch.json()).toEqual({ error: 'disabled: must be a boolean' });
    const missingAgent = await api.call({ method: 'GET', url: `${AGENTS}/nope/memory` });
    expect(missingAgent.json()).toEqual({ error: "agent 'nope' not found" });
  });
});

describe('admin stats', () => {
  test('sessions by status and warm pool by status and agent', async () => {
    await api.pool.query('DELETE FROM agents');
    const a = await ok('POST', AGENTS, { model: 'm' }, 201);
    const b = await ok('POST', AGENTS, { model: 'm' }, 201);
    await api.pool.query(
      `INSERT INTO sessions (agent_id, status) VALUES ($1, 'ready'), ($1, 'ready'), ($1, 'creating'), ($2, 'failed')`,
      [a.id, b.id],
    );
    await api.pool.query(
      `INSERT INTO warm_sandboxes (agent_id, agent_fingerprint, status, expires_at) VALUES
         ($1, 'f', 'warm', now() + interval '30 minutes'), ($1, 'f', 'provisioning', now() + interval '30 minutes'),
         ($2, 'f', 'claimed', now() + interval '30 minutes'), ($2, 'f', 'dead', now())`,
      [a.id, b.id],
    );
    for (const prefix of ['/api/v1', '/v1']) {
      const stats = await ok('GET', `${prefix}/admin/stats`);
      expect(stats).toEqual({
        sessions: { creating: 1, ready: 2, dead: 0, failed: 1, total: 4 },
        warm_pool: {
          provisioning: 1,
          warm: 1,
          claimed: 1,
          dead: 1,
          by_agent: {
            [a.id]: { provisioning: 1, warm: 1, claimed: 0, dead: 0 },
            [b.id]: { provisioning: 0, warm: 0, claimed: 1, dead: 1 },
          },
        },
      });
    }
  });
});
