import net from 'node:net';
import { isWellFormedUnicode } from '../../../platform/src/validation/text';
import { AUTH, startTestApi, type CallOptions, type TestApi } from './test-api';

/**
 * The bad-input sweep: hundreds of malformed requests against every route. Each
 * must be answered 4xx with a JSON `{ error }` body, never a 5xx, and the server
 * must still serve normal requests afterwards.
 */
let api: TestApi;
let agentId: string;
let skillId: string;
let memoryId: string;

beforeAll(async () => {
  api = await startTestApi();
  agentId = (
    await api.call({ method: 'POST', url: '/api/v1/managed_agents/agents', payload: { model: 'm' } })
  ).json().id;
  skillId = (
    await api.call({ method: 'POST', url: '/api/v1/skills', payload: { name: 's', content: 'c' } })
  ).json().id;
  memoryId = (
    await api.call({
      method: 'POST',
      url: `/api/v1/managed_agents/agents/${agentId}/memory`,
      payload: { text: 't' },
    })
  ).json().id;
});
afterAll(async () => {
  await api.close();
});

const ODD_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d',
  '\u202eevil',
  '\ufeffbom',
  'zero\u200bwidth',
  '😀'.repeat(50),
  "'; DROP TABLE agents; --",
  "1' OR '1'='1",
  '$1',
  '%s%s%n',
  '../../etc/passwd',
  '..\\..\\windows',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '\\',
  '"',
  '',
  ' ',
  '\n\r\t',
];

const WRONG_TYPES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  3.14,
  [],
  [1, 'a'],
  {},
  { nested: { deep: [] } },
  'text',
];

const BROKEN_JSON = [
  '{',
  '}',
  '{"model":',
  '{"model": "m",}',
  "{'model': 'm'}",
  '[1,2',
  'nul',
  'undefined',
  '{"model": "m"} trailing',
  '\u0000',
  '{"__proto__": {"admin": true}, "model": "m"}',
  '{"constructor": {"prototype": {"x": 1}}, "model": "m"}',
  '{"model": "\\ud800"}',
  '{"model": "\\u0000"}',
  '"just a string"',
  '12345',
  'null',
  '[]',
  '{"a":'.repeat(2000),
  Buffer.from([0xff, 0xfe, 0xfd]).toString('latin1'),
];

interface Route {
  method: string;
  path: () => string;
  fields: string[];
}

const A = '/api/v1/managed_agents/agents';
const ROUTES: Route[] = [
  {
    method: 'POST',
    path: () => A,
    fields: [
      'model',
      'name',
      'prompt',
      'harness_id',
      'repo_url',
      'branch',
      'requirements',
      'mcp_servers',
      'env_vars',
      'skill_ids',
      'allow_out',
      'deny_out',
      'sandbox_files',
      'pfp_url',
      'litellm_api_base',
      'litellm_api_key',
    ],
  },
  {
    method: 'PATCH',
    path: () => `${A}/${agentId}`,
    fields: [
      'name',
      'prompt',
      'model',
      'branch',
      'pfp_url',
      'mcp_servers',
      'env_vars',
      'harness_image',
      'allow_out',
      'deny_out',
      'sandbox_files',
    ],
  },
  { method: 'POST', path: () => '/api/v1/skills', fields: ['name', 'content', 'description'] },
  { method: 'PATCH', path: () => `/api/v1/skills/${skillId}`, fields: ['name', 'content', 'description'] },
  {
    method: 'POST',
    path: () => `${A}/${agentId}/skill`,
    fields: ['skill_id', 'content', 'name', 'description', 'save_to_library'],
  },
  {
    method: 'POST',
    path: () => `${A}/${agentId}/memory`,
    fields: ['text', 'tags', 'type', 'priority', 'source'],
  },
  {
    method: 'PATCH',
    path: () => `${A}/${agentId}/memory/${memoryId}`,
    fields: ['text', 'tags', 'type', 'priority', 'source', 'disabled'],
  },
];

const BASE_BODIES: Record<string, Record<string, unknown>> = {
  [`POST ${A}`]: { model: 'm' },
  'POST /api/v1/skills': { name: 's', content: 'c' },
};

function baseBody(route: Route): Record<string, unknown> {
  const key = `${route.method} ${route.path()}`;
  if (BASE_BODIES[key]) return BASE_BODIES[key];
  if (route.path().endsWith('/skill')) return { content: 'c' };
  if (route.path().endsWith('/memory')) return { text: 't' };
  return {};
}

function* malformedRequests(): Generator<CallOptions> {
  const json = { 'content-type': 'application/json' };
  for (const route of ROUTES) {
    for (const payload of BROKEN_JSON)
      yield { method: route.method, url: route.path(), payload, headers: json };
    for (const field of route.fields) {
      for (const value of WRONG_TYPES)
        yield { method: route.method, url: route.path(), payload: { ...baseBody(route), [field]: value } };
      for (const value of [
        ODD_STRINGS[0],
        ODD_STRINGS[2],
        ODD_STRINGS[4],
        ODD_STRINGS[9],
        'x'.repeat(70_000),
      ]) {
        yield { method: route.method, url: route.path(), payload: { ...baseBody(route), [field]: value } };
        yield { method: route.method, url: route.path(), payload: { ...baseBody(route), [field]: [value] } };
      }
    }
    for (const contentType of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/jsonx',
    ]) {
      yield {
        method: route.method,
        url: route.path(),
        payload: 'model=m',
        headers: { 'content-type': contentType },
      };
    }
  }
  // Nested odd values where the schema looks inside.
  for (const s of ODD_STRINGS.slice(0, 8)) {
    yield { method: 'POST', url: A, payload: { model: 'm', env_vars: { [s]: 'v' } } };
    yield { method: 'POST', url: A, payload: { model: 'm', env_vars: { OK: s } } };
    yield {
      method: 'POST',
      url: A,
      payload: { model: 'm', sandbox_files: [{ name: s, sandbox_path: s, content: s }] },
    };
    yield { method: 'POST', url: `${A}/${agentId}/memory`, payload: { text: 't', tags: [s] } };
  }
  // Oversized bodies.
  yield {
    method: 'POST',
    url: '/api/v1/skills',
    payload: { name: 's', content: 'x'.repeat(2 * 1024 * 1024) },
  };
  yield { method: 'POST', url: `${A}/${agentId}/memory`, payload: { text: 'x'.repeat(400 * 1024) } };
  yield { method: 'POST', url: A, payload: { model: 'm', prompt: 'x'.repeat(13 * 1024 * 1024) } };
  yield {
    method: 'PATCH',
    url: `${A}/${agentId}`,
    payload: { env_vars: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`K${i}`, 'v'])) },
  };
  // Odd ids and query strings on every read route.
  for (const s of ODD_STRINGS.slice(0, 20)) {
    // A lone surrogate has no UTF-8 form: send the bytes a CESU-8 client would (invalid UTF-8).
    const id = isWellFormedUnicode(s)
      ? encodeURIComponent(s)
      : `%ED%A0%80${encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, ''))}`;
    yield { method: 'GET', url: `${A}/${id}` };
    yield { method: 'DELETE', url: `/api/v1/skills/${id}` };
    yield { method: 'GET', url: `${A}/${id}/memory` };
    yield { method: 'DELETE', url: `${A}/${agentId}/memory/${id}` };
    yield { method: 'DELETE', url: `${A}/${agentId}/skill?skill_id=${id}` };
    yield { method: 'GET', url: `${A}/${agentId}/memory?q=${id}&tag=${id}` };
    yield { method: 'GET', url: `${A}?search=${id}` };
  }
  for (const query of [
    'limit=abc',
    'limit=1e999',
    'limit=NaN',
    'offset=-Infinity',
    'limit=1&limit=2',
    'sort=id;DROP',
    'order=ASC',
    'limit=%ED%A0%80',
    'search=%ED%A0%80',
    'search=%00',
    'limit=9007199254740993',
  ]) {
    yield { method: 'GET', url: `${A}?${query}` };
  }
  // Unknown routes, wrong methods, traversal in the path.
  for (const url of [
    '/',
    '/api',
    '/api/v2/managed_agents/agents',
    '/api/v1/managed_agents',
    '/api/v1/../../etc/passwd',
    '/api/v1/managed_agents/agents/%2e%2e/%2e%2e',
    '/v1/agents',
    '/api/v1/skills/x/y/z',
    '/api/v1/admin',
    '/%00',
    '/api/v1/managed_agents/agents/%ZZ',
  ]) {
    yield { method: 'GET', url };
    yield { method: 'POST', url, payload: {} };
  }
  for (const method of ['PUT', 'DELETE', 'PATCH']) yield { method, url: A, payload: { model: 'm' } };
  for (const method of ['PUT', 'POST']) yield { method, url: `${A}/${agentId}`, payload: {} };
  yield { method: 'PUT', url: '/api/v1/admin/stats' };
  // Auth variants on a valid route.
  for (const authorization of [
    '',
    'Bearer',
    'Bearer  ',
    'bearer x',
    'Token x',
    `Bearer ${'k'.repeat(10_000)}`,
    'Bearer \u00e9',
  ]) {
    yield { method: 'GET', url: A, headers: { authorization } };
  }
}

async function runAll(requests: CallOptions[], concurrency: number) {
  const results: { req: CallOptions; status: number; body: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const req = requests[next++];
        const res = await api.call(req);
        results.push({ req, status: res.statusCode, body: res.body });
      }
    }),
  );
  return results;
}

test('hundreds of malformed requests are all 4xx {error}, and the server stays healthy', async () => {
  const requests = [...malformedRequests()];
  console.log(`bad-input sweep: ${requests.length} requests`);
  expect(requests.length).toBeGreaterThan(700);
  const results = await runAll(requests, 8);
  const describe = (r: (typeof results)[number]) =>
    `${r.req.method} ${r.req.url.slice(0, 80)} ${JSON.stringify(r.req.payload)?.slice(0, 80)} -> ${r.status} ${r.body.slice(0, 120)}`;
  const notClientErrors = results.filter((r) => r.status < 400 || r.status >= 500);
  // A few requests are valid despite odd content (e.g. '../../etc/passwd' as a prompt): 2xx is fine, 5xx never.
  expect(results.filter((r) => r.status >= 500).map(describe)).toEqual([]);
  for (const r of results.filter((x) => x.status >= 400)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      throw new Error(`not JSON: ${describe(r)}`);
    }
    expect(typeof (parsed as { error?: unknown }).error).toBe('string');
    expect(r.body).not.toContain('    at '); // no stack traces
  }
  // Most of them must be rejected; the successes are only the harmless ones.
  expect(notClientErrors.length).toBeLessThan(results.length * 0.2);

  const health = await api.raw({ method: 'GET', url: '/healthz' });
  expect(health.statusCode).toBe(200);
  const list = await api.call({ method: 'GET', url: `${A}?limit=200` });
  expect(list.statusCode).toBe(200);
  // No agent was created from a malformed body with an odd name or model.
  for (const agent of list.json().data) expect(agent.model.includes('\u0000')).toBe(false);
});

test('malformed HTTP on the socket gets a 400 and the server keeps serving', async () => {
  const port = new URL(api.baseUrl).port;
  for (const raw of [
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'BLAH\r\n\r\n',
    'GET /api/v1/managed_agents/agents HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    `POST /api/v1/skills HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.authorization}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ]) {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(raw));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 4\d\d /);
  }
  expect((await api.raw({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
});

describe('transport errors have their own status and say what is wrong', () => {
  test('broken JSON -> 400', async () => {
    const res = await api.call({
      method: 'POST',
      url: A,
      payload: '{"model": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/^invalid JSON body/);
  });

  test('unsupported content type -> 415', async () => {
    const res = await api.call({
      method: 'POST',
      url: A,
      payload: 'model=m',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'unsupported content type: send application/json' });
  });

  test('oversized body -> 413; agents take up to 12 MiB, other routes 256 KiB (skills 1 MiB)', async () => {
    const big = await api.call({
      method: 'POST',
      url: `${A}/${agentId}/memory`,
      payload: { text: 'x'.repeat(300 * 1024) },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toEqual({ error: 'request body too large' });
    const skill = await api.call({
      method: 'POST',
      url: '/api/v1/skills',
      payload: { name: 's', content: 'x'.repeat(900 * 1024) },
    });
    expect(skill.statusCode).toBe(400); // within the skill limit; content itself is capped at 200,000 characters
    const agent = await api.call({
      method: 'POST',
      url: A,
      payload: { model: 'm', prompt: 'x'.repeat(13 * 1024 * 1024) },
    });
    expect(agent.statusCode).toBe(413);
  });

  test('a JSON content type with an empty body is no body (DELETE from clients that always send one)', async () => {
    const created = await api.call({
      method: 'POST',
      url: '/api/v1/skills',
      payload: { name: 'd', content: 'c' },
    });
    const res = await api.call({
      method: 'DELETE',
      url: `/api/v1/skills/${created.json().id}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(204);
  });

  test('unknown route -> 404 naming it; wrong method -> 404', async () => {
    const res = await api.call({ method: 'GET', url: '/api/v1/nothing/here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'route GET /api/v1/nothing/here not found' });
    expect((await api.call({ method: 'PUT', url: A, payload: {} })).statusCode).toBe(404);
  });
});
