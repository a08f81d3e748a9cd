import { loadVaultConfig } from '@lap/vault/src/config';
import { EgressPolicy } from '@lap/vault/src/egress-policy';
import { parseDestinationRules } from '@lap/vault/src/destination-rules';
import { createTestPki } from './support/tls';

const pki = createTestPki();
const valid = {
  VAULT_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
  VAULT_ENV_FILE: '/tmp/vault.env',
  VAULT_CA_CERT_PATH: pki.deploymentCaPath,
  VAULT_CA_KEY_PATH: pki.deploymentCaKeyPath,
};

it('names every missing or bad key in one error', () => {
  let message = '';
  try {
    loadVaultConfig({ VAULT_PORT: 'abc', EGRESS_DENY_OUT: 'ok.example.com,not a host', REAL_GH: 'x' });
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toMatch(/^invalid vault configuration:/);
  for (const expected of [
    /VAULT_PORT: must be a TCP port number/,
    /VAULT_ADMIN_TOKEN: is required/,
    /VAULT_ENV_FILE: is required/,
    /VAULT_CA_CERT: is required; set VAULT_CA_CERT \(PEM\) or VAULT_CA_CERT_PATH/,
    /VAULT_CA_KEY: is required/,
    /HOST_GH: is required with REAL_GH/,
    /EGRESS_DENY_OUT: "not a host" is not a domain, \*\.domain, IP address or CIDR block/,
  ]) {
    expect(message).toMatch(expected);
  }
});

it('takes the CA as PEM text or as files, and binds deployment credentials to their hosts', () => {
  const fromFiles = loadVaultConfig({
    ...valid,
    REAL_LITELLM_API_KEY: 'sk-x',
    HOST_LITELLM_API_KEY: 'https://gw.example.com:4000/v1',
  });
  const fromPem = loadVaultConfig({
    ...valid,
    VAULT_CA_CERT_PATH: undefined,
    VAULT_CA_KEY_PATH: undefined,
    VAULT_CA_CERT: pki.deploymentCa.certPem,
    VAULT_CA_KEY: pki.deploymentCa.keyPem,
  });
  expect(fromPem.ca).toEqual(fromFiles.ca);
  expect(fromFiles.deploymentCredentials[0]).toMatchObject({
    name: 'LITELLM_API_KEY',
    hosts: [{ kind: 'host', host: 'gw.example.com' }],
  });
  // The gateway host is always reachable, whatever allow_out says.
  expect(fromFiles.alwaysAllow.map((rule) => rule.text)).toContain('https://gw.example.com:4000/v1');
  expect(fromFiles.proxyBindHost).toBe('127.0.0.1');
});

describe('egress policy rules', () => {
  const policy = (allow: string[], deny: string[], always: string[] = []) =>
    new EgressPolicy(
      parseDestinationRules(allow),
      parseDestinationRules(deny),
      parseDestinationRules(always),
    );

  it.each([
    // [allow_out, deny_out, host, addresses, allowed]
    [[], [], 'anything.example.com', ['203.0.113.9'], true],
    [[], ['*.evil.com'], 'a.b.evil.com', ['203.0.113.9'], false],
    [[], ['*.evil.com'], 'evil.com', ['203.0.113.9'], true],
    [[], ['evil.com'], 'EVIL.com.', ['203.0.113.9'], false],
    [[], ['10.0.0.0/8'], 'internal.example.com', ['10.1.2.3'], false],
    [[], ['169.254.169.254'], '169.254.169.254', [], false],
    [[], ['2001:db8::/32'], 'v6.example.com', ['2001:db8::1'], false],
    [['api.github.com'], [], 'api.github.com', ['140.82.112.5'], true],
    [['api.github.com'], [], 'github.com', ['140.82.112.4'], false],
    [['*.github.com', '140.82.0.0/16'], [], 'raw.github.com', ['1.1.1.1'], true],
    [['140.82.0.0/16'], [], 'gh.example', ['140.82.1.1'], true],
    [['*.github.com'], ['gist.github.com'], 'gist.github.com', ['1.1.1.1'], false],
  ])('allow %j deny %j: %s -> allowed=%s', (allow, deny, host, addresses, allowed) => {
    expect(policy(allow, deny).decide({ host, addresses }).allowed).toBe(allowed);
  });

  it('dials the address that was approved: an allowed address of a name, never its other ones', () => {
    const dualStack = { host: 'dual.example.com', addresses: ['127.0.0.1', '::1'] };
    expect(policy(['::1'], []).decide(dualStack)).toMatchObject({ allowed: true, address: '::1' });
    expect(policy(['dual.example.com'], []).decide(dualStack)).toMatchObject({
      allowed: true,
      address: '127.0.0.1',
    });
    // One denied address blocks the name, whichever would have been dialled.
    expect(policy([], ['::1']).decide(dualStack)).toMatchObject({ allowed: false, policy: 'deny_out' });
    expect(
      policy([], []).decide({ host: 'meta.example.com', addresses: ['203.0.113.5', '169.254.169.254'] }),
    ).toMatchObject({
      allowed: false,
      policy: 'internal',
    });
  });

  it('names the policy that blocked, and always lets the gateway through', () => {
    expect(policy(['a.com'], []).decide({ host: 'b.com', addresses: [] })).toMatchObject({
      allowed: false,
      policy: 'allow_out',
    });
    expect(policy([], ['b.com']).decide({ host: 'b.com', addresses: [] })).toMatchObject({
      allowed: false,
      policy: 'deny_out',
    });
    expect(policy(['a.com'], ['gw.com'], ['gw.com']).decide({ host: 'gw.com', addresses: [] }).allowed).toBe(
      true,
    );
  });
});
