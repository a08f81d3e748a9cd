/**
 * A hostile agent tries to reach what its egress policy forbids by spelling the destination
 * differently: IP literals in every notation the system resolver accepts, IPv4-mapped IPv6,
 * brackets, a name that resolves into a denied range, the cloud metadata addresses and the
 * deployment's internal ranges. The real
 * vault and relay; raw proxy requests, as a hostile program would write them. A server
 * listens on the forbidden address, so a bypass would be seen arriving.
 */
import { createTestPki, issueServerCertificate, type TestPki } from '../sandbox/support/tls';
import { rawProxyRequest as rawVaultRequest, startTestVault, type TestVault } from '../sandbox/support/vault';
import { startEchoServer, type EchoServer } from './support/echo-server';

let pki: TestPki;
let forbidden: EchoServer;

beforeAll(async () => {
  pki = createTestPki();
  // 127.0.0.3 is the agent's deny_out; 127.0.0.1 stands in for the VPC range.
  forbidden = await startEchoServer(
    issueServerCertificate(pki.upstreamCa, ['localhost', '127.0.0.3', '127.0.0.1']),
    ['127.0.0.3', '127.0.0.1'],
  );
});

afterAll(async () => {
  await forbidden?.close();
});

/** One raw proxy request, as a hostile program would write it. */
const rawProxyRequest = (vault: TestVault, raw: string) => rawVaultRequest(vault.proxyUrl, raw, 15_000);

const connect = (target: string) => `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;

describe('deny_out 127.0.0.3, spelled otherwise', () => {
  let vault: TestVault;
  beforeAll(async () => {
    vault = await startTestVault(pki);
    expect((await vault.pushSecrets({ secrets: {}, deny_out: ['127.0.0.3'] })).status).toBe(200);
  });
  afterAll(async () => {
    await vault?.close();
  });

  it.each([
    '127.0.0.3',
    '2130706435', // decimal
    '0177.0.0.3', // octal
    '0x7f000003', // hex
    '0x7f.0.0.3',
    '127.3', // short form
    '127.0.3',
    '0177.0.0.03',
    '[::ffff:127.0.0.3]', // IPv4-mapped IPv6
    '[::ffff:7f00:3]',
    '[0:0:0:0:0:ffff:127.0.0.3]',
    '[::FFFF:127.0.0.3]',
  ])('CONNECT %s is refused with deny_out', async (host) => {
    const reply = await rawProxyRequest(vault, connect(`${host}:${forbidden.port}`));
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: deny_out');
  });

  it.each(['2130706435', '0x7f000003', '127.3', '[::ffff:127.0.0.3]'])(
    'plain-HTTP GET http://%s/ is refused with deny_out',
    async (host) => {
      const reply = await rawProxyRequest(
        vault,
        `GET http://${host}:${forbidden.port}/echo HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      );
      expect(reply).toMatch(/^HTTP\/1.1 403/);
    },
  );

  afterAll(() => {
    expect(forbidden.received.filter((r) => r.host === '127.0.0.3')).toEqual([]);
  });
});

describe('internal destinations, denied by default', () => {
  let vault: TestVault;
  beforeAll(async () => {
    // 127.0.0.0/8 plays the VPC's own range (EGRESS_INTERNAL_CIDRS on AWS).
    vault = await startTestVault(pki, { EGRESS_INTERNAL_CIDRS: '127.0.0.0/8' });
    expect((await vault.pushSecrets({ secrets: {} })).status).toBe(200);
  });
  afterAll(async () => {
    await vault?.close();
  });

  it.each([
    '169.254.169.254:80', // EC2 instance metadata
    '169.254.170.2:80', // ECS task metadata and credentials
    '[fd00:ec2::254]:80', // EC2 metadata over IPv6
    '[::ffff:169.254.169.254]:80',
    '[::ffff:a9fe:a9fe]:80',
    '2852039166:80', // 169.254.169.254 in decimal
    '0xa9fea9fe:80',
    '0251.0376.0251.0376:80',
    '169.254.1.1:443', // link-local
    '[fe80::1]:443',
    '0.0.0.0:443', // reaches the local host
  ])('CONNECT %s is refused', async (target) => {
    const reply = await rawProxyRequest(vault, connect(target));
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: internal');
  });

  it('a name that resolves into an internal range is refused (localhost -> 127.0.0.1)', async () => {
    const reply = await rawProxyRequest(vault, connect(`localhost:${forbidden.port}`));
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: internal');
  });

  it('plain-HTTP requests to the metadata endpoint are refused', async () => {
    const reply = await rawProxyRequest(
      vault,
      'GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n',
    );
    // The vault's own refusal, not whatever the metadata service would answer.
    expect(reply).toMatch(/^HTTP\/1.1 403/);
    expect(reply.toLowerCase()).toContain('x-lap-egress-policy: internal');
  });
});
