/**
 * A hostile agent holding stubs tries to make the vault hand their real values to a server it
 * controls, or back to itself: the real vault and relay over real TLS, an echoing HTTPS server
 * on three loopback destinations (127.0.0.1: bound to nothing, 127.0.0.2: where GITHUB_TOKEN
 * is bound, localhost: the gateway, where the deployment's LITELLM_API_KEY is bound).
 *
 * The only place a real value may go is a credential header of a request to a host it is
 * bound to; whatever the upstream answers reaches the agent with stubs in place of values.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { request } from 'undici';
import { createTestPki, issueServerCertificate, type TestPki } from '../sandbox/support/tls';
import { startTestVault, type TestVault } from '../sandbox/support/vault';
import { startEchoServer, type EchoServer } from './support/echo-server';

const REAL = {
  LITELLM_API_KEY: 'sk-adversarial-gateway-key-5e1f',
  GITHUB_TOKEN: 'ghp_adversarialGithubToken7d3c',
  UNBOUND_TOKEN: 'unbound-adversarial-value-9a8b',
};
type Name = keyof typeof REAL;
const NAMES = Object.keys(REAL) as Name[];

let pki: TestPki;
let server: EchoServer;
let vault: TestVault;
let stubs: Record<Name, string>;

beforeAll(async () => {
  pki = createTestPki();
  server = await startEchoServer(
    issueServerCertificate(pki.upstreamCa, ['localhost', '127.0.0.1', '127.0.0.2']),
    ['127.0.0.1', '127.0.0.2'],
    Object.values(REAL),
  );
  vault = await startTestVault(pki, {
    REAL_LITELLM_API_KEY: REAL.LITELLM_API_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  const pushed = await vault.pushSecrets({
    secrets: {
      GITHUB_TOKEN: { value: REAL.GITHUB_TOKEN, hosts: ['127.0.0.2'] },
      UNBOUND_TOKEN: { value: REAL.UNBOUND_TOKEN, hosts: [] },
    },
  });
  expect(pushed.status).toBe(200);
  stubs = pushed.body.stubs;
});

afterAll(async () => {
  await vault?.close();
  await server?.close();
});

/** What the agent gets back: status, every header value and the body, as one string. */
async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Readable } = {},
) {
  const response = await request(url, { dispatcher: vault.dispatcher, ...options });
  const body = Buffer.from(await response.body.arrayBuffer());
  return {
    status: response.statusCode,
    headers: response.headers,
    body,
    seen: `${JSON.stringify(response.headers)}\n${body}`,
  };
}

function expectNoRealValue(text: string) {
  for (const name of NAMES) expect(text).not.toContain(REAL[name]);
}

const HOSTS = ['127.0.0.1', '127.0.0.2', 'localhost'];

describe.each(HOSTS)('stubs sent to %s', (host) => {
  const origin = () => `https://${host}:${server.port}`;
  afterEach(() => {
    // Nothing the server received, and nothing the agent got back, holds a real value.
    expectNoRealValue(server.everything());
  });

  it.each(NAMES)('%s in the URL stays a stub', async (name) => {
    const answer = await send(
      `${origin()}/echo?token=${stubs[name]}&again=${encodeURIComponent(stubs[name])}`,
    );
    expect(answer.status).toBe(200);
    expect(server.received.at(-1)!.url).toContain(stubs[name]);
    expectNoRealValue(answer.seen);
  });

  it.each(NAMES)('%s in a non-credential header stays a stub', async (name) => {
    const answer = await send(`${origin()}/echo`, {
      headers: { 'x-agent-note': `token ${stubs[name]}`, cookie: `session=${stubs[name]}` },
    });
    expect(server.received.at(-1)!.headers['x-agent-note']).toBe(`token ${stubs[name]}`);
    expectNoRealValue(answer.seen);
  });

  it.each(NAMES)('%s in a JSON body stays a stub', async (name) => {
    const answer = await send(`${origin()}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: `my env: ${stubs[name]}` }] }),
    });
    expect(server.received.at(-1)!.body).toContain(stubs[name]);
    expectNoRealValue(answer.seen);
  });

  it.each(NAMES)('%s split across two chunks of a streamed body stays a stub', async (name) => {
    const text = `{"prompt":"my env: ${stubs[name]}"}`;
    const cut = text.indexOf(stubs[name]) + 9;
    async function* chunks() {
      yield Buffer.from(text.slice(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 50));
      yield Buffer.from(text.slice(cut));
    }
    const answer = await send(`${origin()}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: Readable.from(chunks()),
    });
    expect(server.received.at(-1)!.body).toBe(text);
    expectNoRealValue(answer.seen);
  });
});

describe('credential headers', () => {
  it('swap a value only for the host it is bound to, and the echo of it comes back as the stub', async () => {
    for (const host of HOSTS) {
      for (const name of NAMES) {
        const answer = await send(`https://${host}:${server.port}/echo`, {
          headers: { authorization: `Bearer ${stubs[name]}` },
        });
        const bound =
          (name === 'GITHUB_TOKEN' && host === '127.0.0.2') ||
          (name === 'LITELLM_API_KEY' && host === 'localhost');
        expect(server.received.at(-1)!.headers.authorization).toBe(
          `Bearer ${bound ? REAL[name] : stubs[name]}`,
        );
        // The server echoed what it got, in its body and in a header: the agent sees the stub.
        expectNoRealValue(answer.seen);
        expect(answer.headers['x-echo-authorization']).toBe(`Bearer ${stubs[name]}`);
      }
    }
  });

  it('a Basic credential echoed back base64-encoded still reaches the agent without the value', async () => {
    const basic = Buffer.from(`x-access-token:${stubs.GITHUB_TOKEN}`).toString('base64');
    const answer = await send(`https://127.0.0.2:${server.port}/echo`, {
      headers: { authorization: `Basic ${basic}` },
    });
    expect(Buffer.from(server.received.at(-1)!.headers.authorization!.slice(6), 'base64').toString()).toBe(
      `x-access-token:${REAL.GITHUB_TOKEN}`,
    );
    const echoed = String(answer.headers['x-echo-authorization']).slice(6);
    expect(Buffer.from(echoed, 'base64').toString()).not.toContain(REAL.GITHUB_TOKEN);
    expectNoRealValue(answer.seen);
  });
});

describe('answers that contain real values', () => {
  it('plain: every value the vault holds (bound or not) is re-stubbed in headers and body', async () => {
    const answer = await send(`https://127.0.0.1:${server.port}/leak`);
    expectNoRealValue(answer.seen);
    for (const name of NAMES) expect(answer.body.toString()).toContain(stubs[name]);
    expect(String(answer.headers['x-leak'])).toContain(stubs.UNBOUND_TOKEN);
  });

  it.each(NAMES)('a value split across two chunks of a streamed answer (%s)', async (name) => {
    const answer = await send(`https://127.0.0.1:${server.port}/leak?split=1&cut=${REAL[name]}`);
    expectNoRealValue(answer.seen);
    expect(answer.body.toString()).toContain(stubs[name]);
  });

  it('gzip (sent although the vault asked for identity): decoded, re-stubbed, encoded again', async () => {
    const answer = await send(`https://127.0.0.2:${server.port}/echo?encoding=gzip`, {
      headers: { authorization: `Bearer ${stubs.GITHUB_TOKEN}`, 'accept-encoding': 'gzip' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBe('gzip');
    const plain = zlib.gunzipSync(answer.body).toString();
    expectNoRealValue(plain);
    expect(plain).toContain(stubs.GITHUB_TOKEN);
    const leaked = await send(`https://127.0.0.1:${server.port}/leak?encoding=gzip`);
    expectNoRealValue(zlib.gunzipSync(leaked.body).toString());
  });

  it('an encoding the vault cannot inspect (brotli) is refused, not passed on', async () => {
    const answer = await send(`https://127.0.0.1:${server.port}/leak?encoding=br`, {
      headers: { 'accept-encoding': 'br' },
    });
    expect(answer.status).toBe(502);
    expect(answer.body.toString()).toMatch(/encoding the vault cannot inspect/);
    expect(server.received.at(-1)!.headers['accept-encoding']).toBeUndefined();
  });
});

it('the vault logs name what it swapped and re-stubbed, never a value', () => {
  const logs = vault.logs.join('');
  expect(logs).toContain('"restubbed"');
  expectNoRealValue(logs);
});
