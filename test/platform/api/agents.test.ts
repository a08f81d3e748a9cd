import crypto from 'node:crypto';
import { openAgentEnvVars, openLitellmApiKey } from '../../../platform/src/agents/secrets';
import { getAgent } from '../../../platform/src/db/agents';
import { AUTH, startTestApi, type TestApi } from './test-api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const AGENTS = '/api/v1/managed_agents/agents';

async function createAgent(body: Record<string, unknown>) {
  const res = await api.call({ method: 'POST', url: AGENTS, payload: body });
  expect(res.statusCode).toBe(201);
  return res.json();
}

describe('auth', () => {
  test('healthz needs no bearer', async () => {
    const res = await api.raw({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  test.each([
    ['missing', {}],
    ['wrong', { authorization: 'Bearer not-the-key' }],
    ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['key as prefix', { authorization: `${AUTH.authorization}x` }],
  ])('%s bearer -> 401 {error} on every prefix', async (_name, headers) => {
    for (const url of [AGENTS, '/v1/managed_agents/agents', '/api/v1/skills', '/api/v1/admin/stats']) {
      const res = await api.raw({ method: 'GET', url, headers });
      expect(res.statusCode).toBe(401);
      expect(typeof res.json().error).toBe('string');
    }
  });

  test('the right bearer passes, case-insensitive scheme', async () => {
    const res = await api.raw({
      method: 'GET',
      url: AGENTS,
      headers: { authorization: AUTH.authorization.replace('Bearer', 'bearer') },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('agents', () => {
  test('create returns the agent with defaults, derived fields and redacted env vars', async () => {
    const agent = await createAgent({
      name: 'code-reviewer',
      model: 'anthropic/claude-opus-4-7',
      prompt: 'You review pull requests.',
      repo_url: 'https://github.com/your-org/your-repo',
      env_vars: { GITHUB_TOKEN: 'ghp_realsecret123', OTHER: 'x' },
      litellm_api_key: 'sk-gateway-secret',
      litellm_api_base: 'https://gateway.example.com',
      template_id: 'tpl_ignored', // the seed SDK sends it; unknown fields are ignored
    });
    expect(agent).toMatchObject({
      name: 'code-reviewer',
      model: 'anthropic/claude-opus-4-7',
      harness_id: 'opencode',
      supports_tui: false,
      branch: 'main',
      mcp_servers: [],
      env_vars: { GITHUB_TOKEN: '<redacted>', OTHER: '<redacted>' },
      attached_skill_ids: [],
      allow_out: [],
      deny_out: [],
      sandbox_files: [],
      pfp_url: null,
      litellm_api_base: 'https://gateway.example.com',
    });
    expect(agent.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(agent.created_at).toISOString()).toBe(agent.created_at);
    const text = JSON.stringify(agent);
    expect(text).not.toContain('ghp_realsecret123');
    expect(text).not.toContain('sk-gateway-secret');
    expect(text).not.toContain('litellm_api_key');
  });

  test('env var values and the gateway key are stored only as ciphertext that opens for this agent', async () => {
    const agent = await createAgent({
      model: 'm',
      env_vars: { GITHUB_TOKEN: 'ghp_stored_secret' },
      litellm_api_key: 'sk-stored-gateway',
    });
    const { rows } = await api.pool.query('SELECT row_to_json(a)::text AS row FROM agents a WHERE id = $1', [
      agent.id,
    ]);
    expect(rows[0].row).not.toContain('ghp_stored_secret');
    expect(rows[0].row).not.toContain('sk-stored-gateway');
    const record = await getAgent(api.pool, agent.id);
    expect(record!.env_var_keys).toEqual(['GITHUB_TOKEN']);
    expect(await openAgentEnvVars(api.secretStore, record!)).toEqual({ GITHUB_TOKEN: 'ghp_stored_secret' });
    expect(await openLitellmApiKey(api.secretStore, record!)).toBe('sk-stored-gateway');
    // Bound to the agent: the same ciphertext on another agent's id does not open.
    await expect(
      openAgentEnvVars(api.secretStore, {
        id: crypto.randomUUID(),
        env_vars_ciphertext: record!.env_vars_ciphertext,
      }),
    ).rejects.toThrow();
  });

  test('TUI harnesses report supports_tui', async () => {
    for (const [harness, tui] of [
      ['claude-code', true],
      ['codex', true],
      ['claude-agent-sdk', false],
      ['opencode', false],
    ] as const) {
      const agent = await createAgent({ model: 'm', harness_id: harness });
      expect(agent.supports_tui).toBe(tui);
    }
  });

  test('get, and 404 shapes for unknown and malformed ids', async () => {
    const agent = await createAgent({ model: 'm', name: 'getme' });
    const res = await api.call({ method: 'GET', url: `${AGENTS}/${agent.id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(agent);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', "1' OR '1'='1"]) {
      const missing = await api.call({ method: 'GET', url: `${AGENTS}/${encodeURIComponent(id)}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: `agent '${id}' not found` });
    }
  });

  test('both /api/v1 and /v1 serve the same agent', async () => {
    const created = await api.call({
      method: 'POST',
      url: '/v1/managed_agents/agents',
      payload: { model: 'm' },
    });
    expect(created.statusCode).toBe(201);
    const viaApi = await api.call({ method: 'GET', url: `${AGENTS}/${created.json().id}` });
    expect(viaApi.json()).toEqual(created.json());
  });

  test('patch changes only the given fields; env_vars replaces the whole map; empty body changes nothing', async () => {
    const agent = await createAgent({ model: 'm1', name: 'p', env_vars: { A: '1', B: '2' }, branch: 'dev' });
    const patched = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: {
        model: 'm2',
        env_vars: { C: '3' },
        harness_image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/harness:v2',
        allow_out: ['*.github.com', '10.0.0.0/8'],
        pfp_url: null,
      },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({
      model: 'm2',
      name: 'p',
      branch: 'dev',
      env_vars: { C: '<redacted>' },
      harness_image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/harness:v2',
      allow_out: ['*.github.com', '10.0.0.0/8'],
    });
    const record = await getAgent(api.pool, agent.id);
    expect(await openAgentEnvVars(api.secretStore, record!)).toEqual({ C: '3' });

    for (const payload of [{}, undefined]) {
      const before = (await api.call({ method: 'GET', url: `${AGENTS}/${agent.id}` })).json();
      const same = await api.call({ method: 'PATCH', url: `${AGENTS}/${agent.id}`, payload });
      expect(same.statusCode).toBe(200);
      expect(same.json()).toEqual(before);
    }
    const cleared = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: { env_vars: {} },
    });
    expect(cleared.json().env_vars).toEqual({});

    const missing = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/00000000-0000-4000-8000-000000000000`,
      payload: { model: 'x' },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: "agent '00000000-0000-4000-8000-000000000000' not found" });
  });

  test('delete stops the agent sessions through the session service, then 404s', async () => {
    const agent = await createAgent({ model: 'm' });
    await api.pool.query("INSERT INTO sessions (agent_id, status) VALUES ($1, 'ready')", [agent.id]);
    const res = await api.call({ method: 'DELETE', url: `${AGENTS}/${agent.id}` });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(api.sessions.stoppedAgents).toContain(agent.id);
    const { rows } = await api.pool.query('SELECT count(*)::int AS n FROM sessions WHERE agent_id = $1', [
      agent.id,
    ]);
    expect(rows[0].n).toBe(0);
    expect((await api.call({ method: 'GET', url: `${AGENTS}/${agent.id}` })).statusCode).toBe(404);
    const again = await api.call({ method: 'DELETE', url: `${AGENTS}/${agent.id}` });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: `agent '${agent.id}' not found` });
  });

  test('sandbox files are stored with their decoded size and default content type', async () => {
    const content = Buffer.from('hello world').toString('base64');
    const agent = await createAgent({
      model: 'm',
      sandbox_files: [{ name: 'hello', sandbox_path: '~/hello.txt', content }],
    });
    expect(agent.sandbox_files).toEqual([
      {
        name: 'hello',
        sandbox_path: '~/hello.txt',
        content,
        content_type: 'application/octet-stream',
        size: 11,
      },
    ]);
  });
});

describe('agent list', () => {
  let ids: string[];
  beforeAll(async () => {
    await api.pool.query('DELETE FROM agents');
    ids = [];
    const harnesses = ['opencode', 'codex', 'claude-code', 'claude-agent-sdk'];
    for (let i = 0; i < 230; i++) {
      const agent = await createAgent({
        model: 'm',
        name: `Agent-${String(i).padStart(3, '0')}${i % 10 === 0 ? '-Special' : ''}`,
        harness_id: harnesses[i % 4],
      });
      ids.push(agent.id);
    }
    // Sessions for the sort by session count: agent 5 has 3, agent 7 has 2, agent 9 has 1.
    for (const [index, count] of [
      [5, 3],
      [7, 2],
      [9, 1],
    ]) {
      for (let n = 0; n < count; n++) {
        await api.pool.query('INSERT INTO sessions (agent_id) VALUES ($1)', [ids[index]]);
      }
    }
  });

  async function list(query: string) {
    const res = await api.call({ method: 'GET', url: `${AGENTS}?${query}` });
    expect(res.statusCode).toBe(200);
    return res.json();
  }

  test('defaults: 50 newest first, envelope with total', async () => {
    const page = await list('');
    expect(page.limit).toBe(50);
    expect(page.offset).toBe(0);
    expect(page.total).toBe(230);
    expect(page.data).toHaveLength(50);
    expect(page.data[0].id).toBe(ids[229]);
    expect(page.data[49].id).toBe(ids[180]);
  });

  test.each([
    ['limit=500', 200],
    ['limit=0', 1],
    ['limit=-5', 1],
    ['limit=200', 200],
    ['limit=7', 7],
  ])('limit is clamped: %s -> %d', async (query, expected) => {
    const page = await list(query);
    expect(page.limit).toBe(expected);
    expect(page.data).toHaveLength(expected);
  });

  test('offset pages through without overlap; past the end is empty with the total', async () => {
    const first = await list('limit=100&offset=0&order=asc');
    const second = await list('limit=100&offset=100&order=asc');
    const third = await list('limit=100&offset=200&order=asc');
    const all = [...first.data, ...second.data, ...third.data].map((a: { id: string }) => a.id);
    expect(all).toEqual(ids);
    const past = await list('offset=1000');
    expect(past).toEqual({ data: [], total: 230, limit: 50, offset: 1000 });
    expect((await list('offset=-3')).offset).toBe(0);
  });

  test('sort by name asc/desc', async () => {
    const asc = await list('sort=name&order=asc&limit=3');
    expect(asc.data.map((a: { name: string }) => a.name)).toEqual([
      'Agent-000-Special',
      'Agent-001',
      'Agent-002',
    ]);
    const desc = await list('sort=name&limit=2');
    expect(desc.data.map((a: { name: string }) => a.name)).toEqual(['Agent-229', 'Agent-228']);
  });

  test('sort by harness_id and by session count', async () => {
    const byHarness = await list('sort=harness_id&order=asc&limit=200');
    const harnessOrder = byHarness.data.map((a: { harness_id: string }) => a.harness_id);
    expect(harnessOrder).toEqual([...harnessOrder].sort());
    const bySessions = await list('sort=sessions&limit=3');
    expect(bySessions.data.map((a: { id: string }) => a.id)).toEqual([ids[5], ids[7], ids[9]]);
    // A session moves this order without any agent changing: the next page shows it at once.
    for (let n = 0; n < 4; n++) {
      await api.pool.query('INSERT INTO sessions (agent_id) VALUES ($1)', [ids[9]]);
    }
    const moved = await list('sort=sessions&limit=3');
    expect(moved.data.map((a: { id: string }) => a.id)).toEqual([ids[9], ids[5], ids[7]]);
  });

  test('search is a case-insensitive substring of name, id or harness_id', async () => {
    const special = await list('search=special&limit=200');
    expect(special.total).toBe(23);
    expect(special.data.every((a: { name: string }) => a.name.endsWith('-Special'))).toBe(true);
    const byId = await list(`search=${ids[42].slice(0, 13).toUpperCase()}`);
    expect(byId.data.map((a: { id: string }) => a.id)).toContain(ids[42]);
    const byHarness = await list('search=CLAUDE-CODE&limit=200');
    expect(byHarness.total).toBe(57);
    const none = await list(`search=${encodeURIComponent("%' OR 1=1 --")}`);
    expect(none).toEqual({ data: [], total: 0, limit: 50, offset: 0 });
    const percent = await list('search=%25');
    expect(percent.total).toBe(0);
  });

  test('bad list parameters are 400 naming the parameter', async () => {
    for (const [query, field] of [
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['offset=x', 'offset'],
      ['sort=bogus', 'sort'],
      ['order=sideways', 'order'],
    ]) {
      const res = await api.call({ method: 'GET', url: `${AGENTS}?${query}` });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe('openapi', () => {
  test('the document is generated from the route schemas', async () => {
    const res = await api.call({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/managed_agents/agents',
        '/api/v1/managed_agents/agents/{id}',
        '/api/v1/skills',
        '/api/v1/managed_agents/agents/{id}/memory',
        '/api/v1/admin/stats',
      ]),
    );
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/v1/'))).toBe(false);
    const create = doc.paths['/api/v1/managed_agents/agents'].post;
    const body = create.requestBody.content['application/json'].schema;
    expect(body.required).toContain('model');
    expect(body.properties.harness_id.enum).toEqual(['opencode', 'claude-agent-sdk', 'claude-code', 'codex']);
  });
});

describe('agent list stays exact through changes (rendered agent and page caches)', () => {
  test('every list item equals GET of that agent, before and after patch, attach and detach', async () => {
    const skill = (
      await api.call({ method: 'POST', url: '/api/v1/skills', payload: { name: 's', content: 'c' } })
    ).json();
    const agent = await createAgent({
      model: 'm1',
      name: 'zz-cache-probe',
      env_vars: { A: '1' },
      sandbox_files: [{ name: 'f', sandbox_path: '/f', content: 'eA==' }],
    });
    const listed = async () => {
      const page = (await api.call({ method: 'GET', url: `${AGENTS}?search=zz-cache-probe` })).json();
      expect(page.data).toHaveLength(1);
      return page.data[0];
    };
    const fetched = async () => (await api.call({ method: 'GET', url: `${AGENTS}/${agent.id}` })).json();

    expect(await listed()).toEqual(await fetched());
    expect(await listed()).toEqual(await fetched()); // served from the cache this time

    await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: { model: 'm2', env_vars: { B: '2' } },
    });
    expect(await listed()).toMatchObject({ model: 'm2', env_vars: { B: '<redacted>' } });
    expect(await listed()).toEqual(await fetched());

    await api.call({ method: 'POST', url: `${AGENTS}/${agent.id}/skill`, payload: { skill_id: skill.id } });
    expect((await listed()).attached_skill_ids).toEqual([skill.id]);
    await api.call({ method: 'DELETE', url: `${AGENTS}/${agent.id}/skill` });
    expect((await listed()).attached_skill_ids).toEqual([]);

    // Many quick changes in a row: each one is visible at once.
    for (let i = 0; i < 20; i++) {
      await api.call({ method: 'PATCH', url: `${AGENTS}/${agent.id}`, payload: { prompt: `p${i}` } });
      expect((await listed()).prompt).toBe(`p${i}`);
    }
    expect(await listed()).toEqual(await fetched());
  });
});

describe('two web processes on one database (rendered page cache)', () => {
  let other: TestApi;
  beforeAll(async () => {
    other = await startTestApi(api);
  });
  afterAll(async () => {
    await other.close();
  });

  const page = async (through: TestApi, query = 'search=zz-two-web') => {
    const res = await through.call({ method: 'GET', url: `${AGENTS}?${query}` });
    expect(res.statusCode).toBe(200);
    return res.json();
  };

  test('a change made through one process is in the next page of the other', async () => {
    // Both processes render and keep the page first.
    expect((await page(api)).total).toBe(0);
    expect((await page(other)).total).toBe(0);

    const agent = await createAgent({ model: 'm1', name: 'zz-two-web-1' });
    expect((await page(other)).data.map((a: { id: string }) => a.id)).toEqual([agent.id]);

    await api.call({ method: 'PATCH', url: `${AGENTS}/${agent.id}`, payload: { model: 'm2' } });
    expect((await page(other)).data[0].model).toBe('m2');

    const second = (
      await other.call({ method: 'POST', url: AGENTS, payload: { model: 'm', name: 'zz-two-web-2' } })
    ).json();
    expect((await page(api)).data.map((a: { id: string }) => a.id)).toEqual([second.id, agent.id]);

    await other.call({ method: 'DELETE', url: `${AGENTS}/${agent.id}` });
    expect(await page(api)).toMatchObject({ total: 1, data: [{ id: second.id }] });
    expect(await page(other)).toMatchObject({ total: 1, data: [{ id: second.id }] });
  });

  test('concurrent writes through both processes: every page afterwards shows all of them', async () => {
    const listPage = (through: TestApi) => page(through, 'search=zz-two-web-burst&limit=200');
    await listPage(api);
    await listPage(other);
    const created = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? other : api).call({
          method: 'POST',
          url: AGENTS,
          payload: { model: 'm', name: `zz-two-web-burst-${i}` },
        }),
      ),
    );
    const ids = created.map((res) => res.json().id as string);
    // Patch half of them concurrently, through the other process, while both keep listing.
    await Promise.all([
      ...ids.slice(0, 12).map((id, i) =>
        (i % 2 ? api : other).call({
          method: 'PATCH',
          url: `${AGENTS}/${id}`,
          payload: { model: 'patched' },
        }),
      ),
      listPage(api),
      listPage(other),
    ]);
    for (const through of [api, other]) {
      const result = await listPage(through);
      expect(result.total).toBe(24);
      expect(new Set(result.data.map((a: { id: string }) => a.id))).toEqual(new Set(ids));
      const patched = result.data.filter((a: { model: string }) => a.model === 'patched');
      expect(new Set(patched.map((a: { id: string }) => a.id))).toEqual(new Set(ids.slice(0, 12)));
    }
  });

  test('a change made outside the API (SQL) is seen too: the version comes from a trigger', async () => {
    const agent = await createAgent({ model: 'm', name: 'zz-two-web-sql' });
    expect((await page(api, 'search=zz-two-web-sql')).data[0].name).toBe('zz-two-web-sql');
    await api.pool.query(`UPDATE agents SET name = 'zz-two-web-sql-renamed' WHERE id = $1`, [agent.id]);
    expect((await page(api, 'search=zz-two-web-sql')).data[0].name).toBe('zz-two-web-sql-renamed');
    expect((await page(other, 'search=zz-two-web-sql')).data[0].name).toBe('zz-two-web-sql-renamed');
  });
});
