/**
 * The vault with real TLS: the harness side is an undici client going through the vault
 * (trusting the deployment CA), the "internet" is local HTTPS servers whose certificates
 * the vault verifies against a test upstream CA.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { createTestPki, issueServerCertificate, startRecordingServer, type TestPki } from './support/tls';
import { rawProxyRequest as rawVaultRequest, startTestVault, type TestVault } from './support/vault';

const GATEWAY_KEY = 'sk-real-gateway-key-9d8c7b6a5f4e';
const GITHUB_TOKEN = 'ghp_realGithubToken0123456789';
const UNBOUND_VALUE = 'real-unbound-value-42';
const FORM_VALUE = 'real-form-value-for-a-legacy-api-7';
const PRIVATE_TOKEN = 'glpat-realPrivateToken-0123';

let pki: TestPki;
let upstream: Awaited<ReturnType<typeof startRecordingServer>>;
let vault: TestVault;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  upstream = await startRecordingServer(pki.upstreamServerCert);
  vault = await startTestVault(pki, {
    // The "gateway" is localhost: the gateway key may go there and nowhere else.
    REAL_LITELLM_API_KEY: GATEWAY_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  const pushed = await vault.pushSecrets({
    secrets: {
      GITHUB_TOKEN: { value: GITHUB_TOKEN, hosts: ['127.0.0.2'] },
      UNBOUND_SECRET: { value: UNBOUND_VALUE, hosts: [] },
      // A legacy API that takes its key in the URL and the form body: it asks for body: true.
      FORM_SECRET: { value: FORM_VALUE, hosts: ['localhost'], body: true },
      GITLAB_TOKEN: { value: PRIVATE_TOKEN, hosts: ['127.0.0.2'], headers: ['PRIVATE-TOKEN'] },
    },
    deny_out: ['127.0.0.3', '*.blocked.test'],
  });
  expect(pushed.status).toBe(200);
  stubs = pushed.body.stubs;
});

afterAll(async () => {
  await vault?.close();
  await upstream?.close();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { dispatcher: vault.dispatcher, headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

function lastSeen() {
  return upstream.seen[upstream.seen.length - 1]!;
}

describe('stub env file and admin push', () => {
  it('mints stub_<name>_<hex> stubs and writes them as KEY=stub lines with mode 0640, readable by the sandbox group', () => {
    expect(stubs.LITELLM_API_KEY).toMatch(/^stub_litellm_api_key_[0-9a-f]{16}$/);
    expect(stubs.GITHUB_TOKEN).toMatch(/^stub_github_token_[0-9a-f]{16}$/);
    const text = fs.readFileSync(vault.envFile, 'utf8');
    expect(text).toContain(`GITHUB_TOKEN=${stubs.GITHUB_TOKEN}\n`);
    expect(text).toContain(`LITELLM_API_KEY=${stubs.LITELLM_API_KEY}\n`);
    expect(text).not.toContain(GATEWAY_KEY);
    expect(text).not.toContain(GITHUB_TOKEN);
    expect(fs.statSync(vault.envFile).mode & 0o777).toBe(0o640);
  });

  it('accepts the admin token only once', async () => {
    const second = await vault.pushSecrets({ secrets: {} });
    expect(second.status).toBe(401);
    expect(second.body.error).toMatch(/already been used/);
  });
});

describe('host-bound swapping over intercepted TLS', () => {
  it('swaps the gateway key only for the gateway host (header)', async () => {
    const response = await get(`https://localhost:${upstream.port}/v1/models`, {
      authorization: `Bearer ${stubs.LITELLM_API_KEY}`,
    });
    expect(response.status).toBe(200);
    expect(lastSeen().headers.authorization).toBe(`Bearer ${GATEWAY_KEY}`);
  });

  it('does not swap the gateway key for another host', async () => {
    await get(`https://127.0.0.1:${upstream.port}/v1/models`, {
      authorization: `Bearer ${stubs.LITELLM_API_KEY}`,
    });
    expect(lastSeen().headers.authorization).toBe(`Bearer ${stubs.LITELLM_API_KEY}`);
  });

  it('swaps an agent secret bound to 127.0.0.2 only there, in Basic auth, and never in the URL', async () => {
    const basic = Buffer.from(`x-access-token:${stubs.GITHUB_TOKEN}`).toString('base64');
    await get(`https://127.0.0.2:${upstream.port}/repo?token=${stubs.GITHUB_TOKEN}`, {
      authorization: `Basic ${basic}`,
    });
    expect(lastSeen().url).toBe(`/repo?token=${stubs.GITHUB_TOKEN}`);
    expect(Buffer.from(lastSeen().headers.authorization!.slice(6), 'base64').toString()).toBe(
      `x-access-token:${GITHUB_TOKEN}`,
    );
    await get(`https://localhost:${upstream.port}/repo`, { authorization: `Basic ${basic}` });
    expect(lastSeen().headers.authorization).toBe(`Basic ${basic}`);
  });

  it('swaps into a header the binding names, and into no other header', async () => {
    await get(`https://127.0.0.2:${upstream.port}/api`, {
      'private-token': stubs.GITLAB_TOKEN!,
      'x-forwarded-note': stubs.GITLAB_TOKEN!,
    });
    expect(lastSeen().headers['private-token']).toBe(PRIVATE_TOKEN);
    expect(lastSeen().headers['x-forwarded-note']).toBe(stubs.GITLAB_TOKEN);
    // GITHUB_TOKEN's binding names no extra header: only the credential headers carry it.
    await get(`https://127.0.0.2:${upstream.port}/api`, { 'private-token': stubs.GITHUB_TOKEN! });
    expect(lastSeen().headers['private-token']).toBe(stubs.GITHUB_TOKEN);
  });

  it('swaps a body: true binding in the URL and a streamed JSON body split across chunks, nothing else', async () => {
    const payload = JSON.stringify({
      key: stubs.LITELLM_API_KEY,
      form: stubs.FORM_SECRET,
      other: stubs.GITHUB_TOKEN,
      pad: 'x'.repeat(100_000),
    });
    // Send the body as a stream of 7-byte chunks so stubs straddle chunk boundaries.
    async function* chunks() {
      for (let index = 0; index < payload.length; index += 7)
        yield Buffer.from(payload.slice(index, index + 7));
    }
    const response = await request(`https://localhost:${upstream.port}/v1/legacy?key=${stubs.FORM_SECRET}`, {
      method: 'POST',
      dispatcher: vault.dispatcher,
      headers: { 'content-type': 'application/json' },
      body: Readable.from(chunks()),
    });
    await response.body.text();
    const body = JSON.parse(lastSeen().body);
    expect(lastSeen().url).toBe(`/v1/legacy?key=${FORM_VALUE}`);
    expect(body.form).toBe(FORM_VALUE);
    // The gateway key is bound to localhost for headers only.
    expect(body.key).toBe(stubs.LITELLM_API_KEY);
    // GITHUB_TOKEN is bound to 127.0.0.2, not localhost.
    expect(body.other).toBe(stubs.GITHUB_TOKEN);
    expect(body.pad).toHaveLength(100_000);
  });

  it('leaves binary bodies untouched', async () => {
    const payload = Buffer.from(`binary ${stubs.FORM_SECRET}`);
    const response = await request(`https://localhost:${upstream.port}/upload`, {
      method: 'POST',
      dispatcher: vault.dispatcher,
      headers: { 'content-type': 'application/octet-stream' },
      body: payload,
    });
    await response.body.text();
    expect(lastSeen().body).toBe(payload.toString());
  });

  it('never swaps an unbound secret, whatever the host', async () => {
    for (const host of ['localhost', '127.0.0.1', '127.0.0.2']) {
      await get(`https://${host}:${upstream.port}/x`, { 'x-api-key': stubs.UNBOUND_SECRET! });
      expect(lastSeen().headers['x-api-key']).toBe(stubs.UNBOUND_SECRET);
    }
  });

  it("lets a pushed value (an agent's own gateway key) replace the deployment-wide one", async () => {
    const own = await startTestVault(pki, {
      REAL_LITELLM_API_KEY: GATEWAY_KEY,
      HOST_LITELLM_API_KEY: 'localhost',
    });
    try {
      const pushed = await own.pushSecrets({
        secrets: { LITELLM_API_KEY: { value: 'sk-agent-own-key-1234', hosts: ['localhost'] } },
      });
      const response = await request(`https://localhost:${upstream.port}/v1/models`, {
        dispatcher: own.dispatcher,
        headers: { authorization: `Bearer ${pushed.body.stubs.LITELLM_API_KEY}` },
      });
      await response.body.text();
      expect(lastSeen().headers.authorization).toBe('Bearer sk-agent-own-key-1234');
    } finally {
      await own.close();
    }
  });

  it('refuses an upstream whose certificate the vault cannot verify', async () => {
    // Signed by the deployment CA, which the vault does not trust for upstreams.
    const untrusted = issueServerCertificate(pki.deploymentCa, ['localhost']);
    const server = await startRecordingServer(untrusted);
    try {
      const response = await get(`https://localhost:${server.port}/`, {
        authorization: `Bearer ${stubs.LITELLM_API_KEY}`,
      });
      expect(response.status).toBe(502);
      expect(server.seen).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

describe('egress policy', () => {
  it('answers 403 with the policy header for a deny_out IP', async () => {
    const response = await get(`https://127.0.0.3:${upstream.port}/`).catch((error: Error) => error);
    // undici surfaces a refused CONNECT as an error carrying the status.
    expect(String((response as Error).message ?? response)).toMatch(/403/);
  });

  it('answers 403 with x-lap-egress-policy on a raw CONNECT to a denied host', async () => {
    const reply = await rawProxyRequest(
      `CONNECT 127.0.0.3:${upstream.port} HTTP/1.1\r\nHost: 127.0.0.3\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: deny_out');
  });

  it('blocks a plain-HTTP proxy request to a denied host with the header', async () => {
    const reply = await rawProxyRequest(
      `GET http://127.0.0.3:${upstream.port}/ HTTP/1.1\r\nHost: 127.0.0.3\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: deny_out');
  });

  it('allows only allow_out destinations (plus the always-allowed gateway) when allow_out is set', async () => {
    const strict = await startTestVault(pki, {
      REAL_LITELLM_API_KEY: GATEWAY_KEY,
      HOST_LITELLM_API_KEY: 'localhost',
      EGRESS_ALLOW_OUT: '127.0.0.0/30',
    });
    try {
      await strict.pushSecrets({ secrets: {}, allow_out: ['*.example.org'] });
      const fetchVia = (url: string) =>
        request(url, { dispatcher: strict.dispatcher }).then(
          async (r) => ({ status: r.statusCode, body: await r.body.text() }),
          (error: Error) => ({ status: 0, body: error.message }),
        );
      expect((await fetchVia(`https://localhost:${upstream.port}/`)).status).toBe(200); // the gateway
      expect((await fetchVia(`https://127.0.0.2:${upstream.port}/`)).status).toBe(200); // in the CIDR
      const blocked = await rawProxyRequest(
        `CONNECT 127.0.0.4:${upstream.port} HTTP/1.1\r\nHost: x\r\n\r\n`,
        strict.proxyUrl,
      );
      expect(blocked).toMatch(/^HTTP\/1.1 403/);
      expect(blocked.toLowerCase()).toContain('x-lap-egress-policy: allow_out');
    } finally {
      await strict.close();
    }
  });
});

describe('robustness', () => {
  it.each([
    ['no port', 'CONNECT example.com HTTP/1.1\r\n\r\n', /^HTTP\/1.1 400/],
    ['port out of range', 'CONNECT example.com:70000 HTTP/1.1\r\n\r\n', /^HTTP\/1.1 400/],
    ['garbage request line', 'CONNECT\r\n\r\n', /^HTTP\/1.1 400/],
    ['not HTTP at all', '\x16\x03\x01garbage\r\n\r\n', /^HTTP\/1.1 400/],
    ['origin-form request to the proxy', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1.1 400/],
  ])('answers a malformed request cleanly (%s)', async (_name, raw, expected) => {
    const reply = await rawProxyRequest(raw);
    expect(reply).toMatch(expected);
    // The vault is still serving.
    expect((await get(`https://localhost:${upstream.port}/ok`)).status).toBe(200);
  });

  it('serves many concurrent connections, each with its own swapped key', async () => {
    const before = upstream.seen.length;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        get(`https://${index % 2 ? 'localhost' : '127.0.0.1'}:${upstream.port}/c/${index}`, {
          authorization: `Bearer ${stubs.LITELLM_API_KEY}`,
        }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const seen = upstream.seen.slice(before);
    expect(seen).toHaveLength(40);
    for (const entry of seen) {
      const index = Number(entry.url.split('/').pop());
      expect(entry.headers.authorization).toBe(
        index % 2 ? `Bearer ${GATEWAY_KEY}` : `Bearer ${stubs.LITELLM_API_KEY}`,
      );
    }
  });

  it('never writes a real value into its logs', () => {
    const text = vault.logs.join('');
    expect(text).toContain('"event":"egress"');
    expect(text).toContain('"swapped":["LITELLM_API_KEY"]');
    for (const real of [GATEWAY_KEY, GITHUB_TOKEN, UNBOUND_VALUE, FORM_VALUE, PRIVATE_TOKEN])
      expect(text).not.toContain(real);
  });
});

function rawProxyRequest(raw: string, proxyUrl = vault.proxyUrl): Promise<string> {
  return rawVaultRequest(proxyUrl, raw);
}
