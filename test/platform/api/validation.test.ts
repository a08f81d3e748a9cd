import { startTestApi, type TestApi } from './test-api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const AGENTS = '/api/v1/managed_agents/agents';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const file = (over: Record<string, unknown> = {}) => ({
  name: 'f',
  sandbox_path: '/tmp/f',
  content: b64('x'),
  ...over,
});
const manyKeys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`KEY_${i}`, 'v']));

async function expectCreateRejected(body: Record<string, unknown>, message: string | RegExp) {
  const res = await api.call({ method: 'POST', url: AGENTS, payload: { model: 'm', ...body } });
  expect(res.statusCode).toBe(400);
  const error: string = res.json().error;
  if (typeof message === 'string') expect(error).toContain(message);
  else expect(error).toMatch(message);
}

async function expectCreated(body: Record<string, unknown>) {
  const res = await api.call({ method: 'POST', url: AGENTS, payload: { model: 'm', ...body } });
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`);
  return res.json();
}

describe('model and harness', () => {
  test('model is required and non-empty', async () => {
    const res = await api.call({ method: 'POST', url: AGENTS, payload: { name: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'model: is required' });
    await expectCreateRejected({ model: '' }, 'model: must not be empty');
    await expectCreateRejected({ model: '   ' }, 'model: must not be empty');
    await expectCreateRejected({ model: 42 }, /^model: /);
  });

  test('harness_id is one of the four harnesses', async () => {
    await expectCreateRejected(
      { harness_id: 'vim' },
      'harness_id: must be one of opencode, claude-agent-sdk, claude-code, codex',
    );
  });

  test('several problems are all named', async () => {
    const res = await api.call({ method: 'POST', url: AGENTS, payload: { harness_id: 'x', branch: 7 } });
    const error: string = res.json().error;
    expect(error).toContain('model: is required');
    expect(error).toContain('harness_id: ');
    expect(error).toContain('branch: ');
  });
});

describe('env_vars (agent-level)', () => {
  test('at most 50 keys', async () => {
    await expectCreated({ env_vars: manyKeys(50) });
    await expectCreateRejected({ env_vars: manyKeys(51) }, 'env_vars: at most 50 keys (got 51)');
  });

  test('at most 16 KB as JSON', async () => {
    await expectCreated({ env_vars: { BIG: 'x'.repeat(16 * 1024 - 20) } });
    await expectCreateRejected(
      { env_vars: { BIG: 'x'.repeat(16 * 1024) } },
      'env_vars: at most 16 KB as JSON',
    );
  });

  test.each(['1ABC', 'A-B', 'A B', 'ÄÖ', '', 'a.b'])('key %j must match the pattern', async (key) => {
    await expectCreateRejected({ env_vars: { [key]: 'v' } }, 'key must match ^[A-Za-z_][A-Za-z0-9_]*$');
  });

  test.each([
    'REPO_URL',
    'BRANCH',
    'LITELLM_API_KEY',
    'LITELLM_API_BASE',
    'LITELLM_DEFAULT_MODEL',
    'AGENT_PROMPT',
    'PORT',
    'GIT_TOKEN',
    'AGENT_REQUIREMENTS',
  ])('reserved key %s is rejected', async (key) => {
    await expectCreateRejected({ env_vars: { [key]: 'v' } }, `env_vars.${key}: reserved key`);
  });

  test.each([1, true, null, { a: 1 }, ['x']])('non-string value %j is rejected', async (value) => {
    await expectCreateRejected({ env_vars: { TOKEN: value } }, 'env_vars.TOKEN: must be a string');
  });

  test('not a map', async () => {
    await expectCreateRejected({ env_vars: ['A=1'] }, /^env_vars: /);
  });

  test('error messages name keys, never values', async () => {
    const res = await api.call({
      method: 'POST',
      url: AGENTS,
      payload: { model: 'm', env_vars: { PORT: 'super-secret-value', OK: 'v' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('super-secret-value');
  });

  test('PATCH applies the same rules', async () => {
    const agent = await expectCreated({});
    const res = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: { env_vars: { GIT_TOKEN: 'x' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toContain('env_vars.GIT_TOKEN: reserved key');
  });
});

describe('sandbox_files', () => {
  test('at most 20 files', async () => {
    await expectCreated({ sandbox_files: Array.from({ length: 20 }, (_, i) => file({ name: `f${i}` })) });
    await expectCreateRejected(
      { sandbox_files: Array.from({ length: 21 }, (_, i) => file({ name: `f${i}` })) },
      'sandbox_files: at most 20 files',
    );
  });

  test('at most 10 MB of base64 in total', async () => {
    const fiveMb = 'A'.repeat(5 * 1024 * 1024);
    await expectCreated({ sandbox_files: [file({ content: fiveMb }), file({ content: fiveMb })] });
    await expectCreateRejected(
      { sandbox_files: [file({ content: fiveMb }), file({ content: fiveMb }), file({ content: 'AAAA' })] },
      'sandbox_files: at most 10 MB of base64 content in total',
    );
  });

  test.each(['tmp/f', 'relative', '', './x', ' /x'])('sandbox_path %j must start with / or ~', async (p) => {
    await expectCreateRejected(
      { sandbox_files: [file(), file(), file(), file({ sandbox_path: p })] },
      /sandbox_files\[3\]\.sandbox_path: (must start with \/ or ~|must not be empty)/,
    );
  });

  test('~ and absolute paths are accepted', async () => {
    const agent = await expectCreated({
      sandbox_files: [file({ sandbox_path: '~/.config/x' }), file({ sandbox_path: '/etc/y' })],
    });
    expect(agent.sandbox_files.map((f: { sandbox_path: string }) => f.sandbox_path)).toEqual([
      '~/.config/x',
      '/etc/y',
    ]);
  });

  test.each(['not base64!', 'abc', '====', 'YQ=', '😀'])(
    'content %j must be valid base64',
    async (content) => {
      await expectCreateRejected(
        { sandbox_files: [file({ content })] },
        'sandbox_files[0].content: must be valid base64',
      );
    },
  );

  test('name and sandbox_path are required; a wrong size is named', async () => {
    await expectCreateRejected(
      { sandbox_files: [{ sandbox_path: '/x', content: '' }] },
      'sandbox_files[0].name: is required',
    );
    await expectCreateRejected(
      { sandbox_files: [{ name: 'x', content: '' }] },
      'sandbox_files[0].sandbox_path: is required',
    );
    await expectCreateRejected(
      { sandbox_files: [file({ content: b64('abc'), size: 4 })] },
      'sandbox_files[0].size: must equal the decoded content length (3)',
    );
  });

  test('content_type is kept when given', async () => {
    const agent = await expectCreated({ sandbox_files: [file({ content_type: 'text/plain' })] });
    expect(agent.sandbox_files[0].content_type).toBe('text/plain');
  });
});

describe('allow_out / deny_out', () => {
  const valid = [
    'example.com',
    'api.github.com',
    '*.github.com',
    'localhost',
    '10.0.0.1',
    '10.0.0.0/8',
    '192.168.1.0/24',
    '::1',
    '2001:db8::1',
    '2001:db8::/32',
    '0.0.0.0/0',
  ];
  const invalid = [
    'http://example.com',
    'example.com/path',
    '*example.com',
    '*.*.com',
    'exa mple.com',
    '-bad.com',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    'example.com:443',
    '',
    '..',
    'a'.repeat(300),
  ];

  test('domains, wildcard domains, IPs and CIDRs are accepted', async () => {
    const agent = await expectCreated({ allow_out: valid, deny_out: valid });
    expect(agent.allow_out).toEqual(valid);
    expect(agent.deny_out).toEqual(valid);
  });

  test.each(invalid)('%j is rejected in allow_out and deny_out', async (entry) => {
    const message = 'must be a domain, *.wildcard domain, IP address or CIDR block';
    await expectCreateRejected({ allow_out: ['ok.com', entry] }, `allow_out[1]: ${message}`);
    await expectCreateRejected({ deny_out: [entry] }, `deny_out[0]: ${message}`);
  });
});

describe('repo_url and other fields', () => {
  test.each([
    'https://github.com/org/repo',
    'https://github.com/org/repo.git',
    'http://git.internal:8080/org/repo',
    'ssh://git@github.com/org/repo.git',
    'git@github.com:org/repo.git',
  ])('repo_url %s is accepted', async (url) => {
    expect((await expectCreated({ repo_url: url })).repo_url).toBe(url);
  });

  test.each([
    'not a url',
    'ftp://host/repo',
    'https://',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'https://host',
  ])('repo_url %j is rejected', async (url) => {
    await expectCreateRejected({ repo_url: url }, /^repo_url: must be a git URL/);
  });

  test('skill_ids that do not exist are a 404 naming the skill', async () => {
    const res = await api.call({
      method: 'POST',
      url: AGENTS,
      payload: { model: 'm', skill_ids: ['00000000-0000-4000-8000-00000000abcd'] },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: "skill '00000000-0000-4000-8000-00000000abcd' not found" });
  });

  test('pfp_url must be http(s); harness_image must be an image reference', async () => {
    await expectCreateRejected({ pfp_url: 'not a url' }, 'pfp_url: must be an http(s) URL');
    const agent = await expectCreated({});
    const res = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: { harness_image: 'bad image ref' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/^harness_image: must be a container image reference/);
  });

  test('NUL characters are a 400, not a database error', async () => {
    await expectCreateRejected({ name: 'a\u0000b' }, 'name: must not contain NUL characters');
    await expectCreateRejected(
      { env_vars: { A: 'x\u0000' } },
      'env_vars.A: value must not contain NUL characters',
    );
    await expectCreateRejected(
      { mcp_servers: ['\u0000'] },
      'mcp_servers[0]: must not contain NUL characters',
    );
  });

  test('long text is bounded', async () => {
    await expectCreateRejected({ name: 'n'.repeat(201) }, 'name: at most 200 characters');
  });
});

describe('PATCH', () => {
  test.each([
    ['harness_id', 'codex'],
    ['repo_url', 'https://github.com/a/b'],
    ['requirements', 'x'],
    ['skill_ids', []],
  ])('%s cannot be patched and says why', async (field, value) => {
    const agent = await expectCreated({});
    const res = await api.call({
      method: 'PATCH',
      url: `${AGENTS}/${agent.id}`,
      payload: { [field]: value },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(new RegExp(`^${field}: cannot be changed after create`));
  });
});
