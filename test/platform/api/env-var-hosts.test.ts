/**
 * Credential bindings through the API, as a client sets them: `env_var_hosts` on agent
 * create / patch / get and on session create, `unbound_env_vars` in the answers, 400s naming
 * the key, and what the worker then pushes to the vault (explicit > built-in > unbound; the
 * session's own values never stored).
 */
import { DEFAULT_ENV_VAR_BINDINGS } from '@lap/sandbox-protocol';
import { getAgent } from '../../../platform/src/db/agents';
import { egressToken } from '../../../platform/src/sandbox/tokens';
import { buildVaultPush } from '../../../platform/src/bring-up/vault-push';
import { startRuntimeApi, type RuntimeApi } from './test-api';

let api: RuntimeApi;
beforeAll(async () => {
  api = await startRuntimeApi();
});
afterAll(async () => {
  await api.close();
});

const AGENTS = '/api/v1/managed_agents/agents';
const call = (method: string, url: string, payload?: unknown) => api.call(method, url, payload);

const ENV = { GITHUB_TOKEN: 'ghp_real0001', INTERNAL_KEY: 'internal-real-0002', PLAIN: 'plain-real-0003' };

describe('agent env_var_hosts', () => {
  test('create and get return the bindings and list the keys that have none', async () => {
    const created = await call('POST', AGENTS, {
      model: 'm',
      env_vars: ENV,
      env_var_hosts: {
        INTERNAL_KEY: { hosts: ['*.corp.example.com', '10.0.0.0/8'], headers: ['Private-Token'] },
      },
    });
    expect(created.statusCode).toBe(201);
    const agent = created.json();
    expect(agent.env_var_hosts).toEqual({
      INTERNAL_KEY: { hosts: ['*.corp.example.com', '10.0.0.0/8'], headers: ['Private-Token'] },
    });
    // GITHUB_TOKEN has a built-in binding; PLAIN has none.
    expect(agent.unbound_env_vars).toEqual(['PLAIN']);
    expect((await call('GET', `${AGENTS}/${agent.id}`)).json()).toEqual(agent);
  });

  test('an explicit [] unbinds a well-known key', async () => {
    const agent = (
      await call('POST', AGENTS, { model: 'm', env_vars: ENV, env_var_hosts: { GITHUB_TOKEN: [] } })
    ).json();
    expect(agent.unbound_env_vars).toEqual(['GITHUB_TOKEN', 'INTERNAL_KEY', 'PLAIN']);
  });

  test.each([
    [
      { env_var_hosts: { PLAIN: ['not a host'] } },
      /^env_var_hosts\.PLAIN\[0\]: "not a host" is not a domain/,
    ],
    [
      { env_var_hosts: { PLAIN: ['10.0.0.0/33'] } },
      /^env_var_hosts\.PLAIN\[0\]: "10\.0\.0\.0\/33" is not a valid CIDR/,
    ],
    [
      { env_var_hosts: { MISSING: ['example.com'] } },
      /^env_var_hosts\.MISSING: there is no env var MISSING to bind/,
    ],
    [
      { env_var_hosts: { PLAIN: { hosts: ['a.com'], headers: ['bad header'] } } },
      /^env_var_hosts\.PLAIN\.headers\[0\]: must be an HTTP header name/,
    ],
    [{ env_var_hosts: { PLAIN: 'example.com' } }, /^env_var_hosts\.PLAIN: must be a list of host patterns/],
  ])('400 naming the key: %j', async (fields, message) => {
    const res = await call('POST', AGENTS, { model: 'm', env_vars: ENV, ...fields });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(message);
  });

  test('patch replaces the bindings; new env vars drop the bindings of removed keys', async () => {
    const agent = (
      await call('POST', AGENTS, {
        model: 'm',
        env_vars: ENV,
        env_var_hosts: { PLAIN: ['plain.example.com'] },
      })
    ).json();
    expect(agent.unbound_env_vars).toEqual(['INTERNAL_KEY']);

    const rebound = await call('PATCH', `${AGENTS}/${agent.id}`, {
      env_var_hosts: { INTERNAL_KEY: ['internal.example.com'] },
    });
    expect(rebound.statusCode).toBe(200);
    expect(rebound.json().env_var_hosts).toEqual({ INTERNAL_KEY: ['internal.example.com'] });
    expect(rebound.json().unbound_env_vars).toEqual(['PLAIN']);

    const orphan = await call('PATCH', `${AGENTS}/${agent.id}`, { env_var_hosts: { GONE: ['a.com'] } });
    expect(orphan.statusCode).toBe(400);
    expect(orphan.json().error).toMatch(/^env_var_hosts\.GONE: there is no env var GONE/);

    const fewer = await call('PATCH', `${AGENTS}/${agent.id}`, { env_vars: { PLAIN: 'p' } });
    expect(fewer.json().env_var_hosts).toEqual({});
    expect(fewer.json().unbound_env_vars).toEqual(['PLAIN']);
  });
});

describe('session env_var_hosts', () => {
  test('session create validates them, echoes the unbound keys, and stores neither values nor bindings', async () => {
    const agent = (
      await call('POST', AGENTS, {
        model: 'm',
        env_vars: ENV,
        env_var_hosts: { INTERNAL_KEY: ['internal.example.com'] },
      })
    ).json();
    const bad = await call('POST', `${AGENTS}/${agent.id}/session`, {
      env_vars: { CI_TOKEN: 'ci-real-0004' },
      env_var_hosts: { OTHER: ['ci.example.com'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/^env_var_hosts\.OTHER: there is no env var OTHER/);

    const created = await call('POST', `${AGENTS}/${agent.id}/session`, {
      env_vars: {
        CI_TOKEN: 'ci-real-0004',
        DEPLOY_KEY: 'deploy-real-0005',
        INTERNAL_KEY: 'session-override',
      },
      env_var_hosts: { CI_TOKEN: ['ci.example.com'] },
    });
    expect(created.statusCode).toBe(201);
    // INTERNAL_KEY takes the agent's binding of the same key.
    expect(created.json().unbound_env_vars).toEqual(['DEPLOY_KEY']);
    const stored = await api.pool.query('SELECT row_to_json(s)::text AS row FROM sessions s WHERE id = $1', [
      created.json().id,
    ]);
    const jobs = await api.pool.query('SELECT payload::text FROM jobs WHERE session_id = $1', [
      created.json().id,
    ]);
    for (const text of [stored.rows[0].row, ...jobs.rows.map((r: { payload: string }) => r.payload)]) {
      expect(text).not.toContain('ci.example.com');
      expect(text).not.toContain('ci-real-0004');
    }
  });
});

describe('the vault push', () => {
  test('resolves explicit > built-in > unbound, session over agent, and carries the egress token', async () => {
    const created = (
      await call('POST', AGENTS, {
        model: 'm',
        env_vars: { ...ENV, OPENAI_API_KEY: 'sk-openai-real' },
        env_var_hosts: { INTERNAL_KEY: { hosts: ['internal.example.com'], body: true } },
        litellm_api_base: 'https://gateway.example.com/v1',
        litellm_api_key: 'sk-own-gateway-key',
      })
    ).json();
    const agent = (await getAgent(api.pool, created.id))!;
    const push = await buildVaultPush(
      api.secretStore,
      agent,
      { values: { CI_TOKEN: 'ci-real', PLAIN: 'session-plain' }, bindings: { CI_TOKEN: ['ci.example.com'] } },
      {
        tokenKey: 'egress-key-0123456789abcdef',
        sandboxId: 'sbx-1',
        vaultAdminUrl: 'https://10.0.7.9:14323',
      },
    );
    expect(push.secrets).toEqual({
      GITHUB_TOKEN: { value: ENV.GITHUB_TOKEN, ...DEFAULT_ENV_VAR_BINDINGS.GITHUB_TOKEN },
      OPENAI_API_KEY: { value: 'sk-openai-real', ...DEFAULT_ENV_VAR_BINDINGS.OPENAI_API_KEY },
      INTERNAL_KEY: { value: ENV.INTERNAL_KEY, hosts: ['internal.example.com'], body: true },
      PLAIN: { value: 'session-plain', hosts: [] },
      CI_TOKEN: { value: 'ci-real', hosts: ['ci.example.com'] },
      LITELLM_API_KEY: { value: 'sk-own-gateway-key', hosts: ['gateway.example.com'] },
    });
    expect(push.egress_token).toBe(egressToken('egress-key-0123456789abcdef', 'sbx-1', '10.0.7.9'));
    expect(push.egress_token).toMatch(/^sbx-1\.[0-9a-f]{64}$/);
    const withoutKey = await buildVaultPush(api.secretStore, agent, undefined, {
      tokenKey: undefined,
      sandboxId: 'sbx-1',
      vaultAdminUrl: 'https://10.0.7.9:14323',
    });
    expect(withoutKey.egress_token).toBeUndefined();
  });
});
