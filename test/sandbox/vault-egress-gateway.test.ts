/**
 * Enforced egress (AWS `sandbox.egress: "enforced"`): the real vault dials every upstream
 * through the real egress gateway process (TLS verified against the deployment CA for
 * lap-egress-gateway, CONNECT to the approved address, the egress token the worker computes
 * with platform/src/sandbox/tokens.ts). On AWS the sandbox has no other route out; here the
 * test plays the harness trying to use the gateway itself, without the vault.
 */
import net from 'node:net';
import tls from 'node:tls';
import { request } from 'undici';
import { egressToken } from '../../platform/src/sandbox/tokens';
import { startEgressGateway, type EgressGatewayProcess } from './support/egress-gateway';
import { createTestPki, issueServerCertificate, startRecordingServer, type TestPki } from './support/tls';
import { startTestVault, type TestVault } from './support/vault';

const TOKEN_KEY = 'egress-token-key-0123456789abcdef';
const SANDBOX_ID = '4b1f0c2e-8d7a-4e55-9a1b-0c3d5e7f9a11';
const GITHUB_TOKEN = 'ghp_realTokenThroughTheGateway42';

let pki: TestPki;
let upstream: Awaited<ReturnType<typeof startRecordingServer>>;
let gateway: EgressGatewayProcess;
let vault: TestVault;
let stubs: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  upstream = await startRecordingServer(issueServerCertificate(pki.upstreamCa, ['127.0.0.2']), undefined, [
    '127.0.0.2',
  ]);
  gateway = await startEgressGateway(pki, {
    EGRESS_TOKEN_KEY: TOKEN_KEY,
    EGRESS_GATEWAY_ALLOWED_PORTS: `${upstream.port},80,443`,
    // The test's "internet" is a loopback address; the gateway refuses loopback otherwise.
    EGRESS_GATEWAY_ALLOW_CIDRS: '127.0.0.2/32',
  });
  vault = await startTestVault(pki, { VAULT_EGRESS_GATEWAY: gateway.address });
  const pushed = await vault.pushSecrets({
    secrets: { GITHUB_TOKEN: { value: GITHUB_TOKEN, hosts: ['127.0.0.2'] } },
    // The vault's connections to the gateway come from 127.0.0.1: the task's address here.
    egress_token: egressToken(TOKEN_KEY, SANDBOX_ID, '127.0.0.1'),
  });
  expect(pushed.status).toBe(200);
  stubs = pushed.body.stubs;
});

afterAll(async () => {
  await vault?.close();
  await gateway?.stop();
  await upstream?.close();
});

const connectLines = () => gateway.logs().filter((line) => line.event === 'egress_connect');

it('the vault reaches upstreams through the gateway, swapping as usual', async () => {
  const response = await request(`https://127.0.0.2:${upstream.port}/repo`, {
    dispatcher: vault.dispatcher,
    headers: { authorization: `Bearer ${stubs.GITHUB_TOKEN}` },
  });
  expect(response.statusCode).toBe(200);
  // The echoed Authorization comes back re-stubbed.
  expect(await response.body.text()).toContain(stubs.GITHUB_TOKEN);
  expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${GITHUB_TOKEN}`);
  // A tunnel for this sandbox, to the address the vault's policy approved.
  expect(
    connectLines().some(
      (line) => line.status === 200 && line.sandbox_id === SANDBOX_ID && line.destination === '127.0.0.2',
    ),
  ).toBe(true);
});

it('a vault with a token for another address is refused by the gateway (so it never dials directly)', async () => {
  const other = await startTestVault(pki, { VAULT_EGRESS_GATEWAY: gateway.address });
  try {
    await other.pushSecrets({ secrets: {}, egress_token: egressToken(TOKEN_KEY, SANDBOX_ID, '10.0.3.9') });
    const before = upstream.seen.length;
    const response = await request(`https://127.0.0.2:${upstream.port}/x`, { dispatcher: other.dispatcher });
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).toMatch(/egress gateway refused 127\.0\.0\.2:\d+: 407/);
    expect(upstream.seen.length).toBe(before);
  } finally {
    await other.close();
  }
});

it('a vault that was pushed no egress token says so', async () => {
  const other = await startTestVault(pki, { VAULT_EGRESS_GATEWAY: gateway.address });
  try {
    await other.pushSecrets({ secrets: {} });
    const response = await request(`https://127.0.0.2:${upstream.port}/x`, { dispatcher: other.dispatcher });
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).toMatch(/no egress token/);
  } finally {
    await other.close();
  }
});

/** The harness going around the vault: its own TLS connection to the gateway, one CONNECT. */
function bypass(target: string, authorization?: string): Promise<string> {
  const [host, port] = gateway.address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host, port: Number(port), servername: 'lap-egress-gateway', ca: pki.deploymentCa.certPem },
      () => {
        socket.write(
          `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n` +
            (authorization ? `Proxy-Authorization: ${authorization}\r\n` : '') +
            '\r\n',
        );
      },
    );
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

describe('the harness going around the vault', () => {
  const target = () => `127.0.0.2:${upstream.port}`;

  it('without a token: 407', async () => {
    expect(await bypass(target())).toMatch(/^HTTP\/1.1 407/);
  });

  it('with a token computed for another source address: 407', async () => {
    expect(await bypass(target(), `Bearer ${egressToken(TOKEN_KEY, SANDBOX_ID, '10.0.3.9')}`)).toMatch(
      /^HTTP\/1.1 407/,
    );
  });

  it('with a token signed by another key: 407', async () => {
    expect(
      await bypass(target(), `Bearer ${egressToken('another-key-0123456789', SANDBOX_ID, '127.0.0.1')}`),
    ).toMatch(/^HTTP\/1.1 407/);
  });

  it('even with the vault token, never to the metadata endpoint or by name', async () => {
    const token = `Bearer ${egressToken(TOKEN_KEY, SANDBOX_ID, '127.0.0.1')}`;
    expect(await bypass('169.254.169.254:80', token)).toMatch(/^HTTP\/1.1 403/);
    expect(await bypass('[::ffff:169.254.169.254]:80', token)).toMatch(/^HTTP\/1.1 403/);
    expect(await bypass(`localhost:${upstream.port}`, token)).toMatch(/^HTTP\/1.1 400/);
  });

  it('without TLS: no answer at all', async () => {
    const [host, port] = gateway.address.split(':') as [string, string];
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), host, () =>
        socket.write(`CONNECT ${target()} HTTP/1.1\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(reply).not.toMatch(/HTTP\/1.1 200/);
  });

  it('the gateway logged every refusal and never a token', async () => {
    const refusals = connectLines().filter((line) => line.status === 407);
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(gateway.output()).not.toContain(egressToken(TOKEN_KEY, SANDBOX_ID, '127.0.0.1').split('.')[1]);
  });
});

it('answers its health check', async () => {
  const response = await request(gateway.healthUrl);
  expect(response.statusCode).toBe(200);
  expect(await response.body.json()).toMatchObject({ status: 'ok' });
});
