/**
 * A small stand-in for the vault (run as a process by the local launcher in tests
 * until sandbox/vault lands): the admin endpoint over TLS for `lap-vault`, signed by
 * the deployment CA, accepting one secrets push and writing the stub env file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { VAULT_ADMIN_SERVER_NAME } from '@lap/sandbox-protocol';
import { LeafCertificateIssuer } from '../../../../sandbox/vault/src/ca';

const env = process.env;
const issuer = new LeafCertificateIssuer({
  certPem: fs.readFileSync(env.VAULT_CA_CERT_PATH!, 'utf8'),
  keyPem: fs.readFileSync(env.VAULT_CA_KEY_PATH!, 'utf8'),
});
const leaf = issuer.certificateFor(VAULT_ADMIN_SERVER_NAME);
let adminToken: string | undefined = env.VAULT_ADMIN_TOKEN;

https
  .createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/secrets')
        return res.writeHead(404).end('{"error":"not found"}');
      if (!adminToken || req.headers.authorization !== `Bearer ${adminToken}`)
        return res.writeHead(401).end('{"error":"invalid or used admin token"}');
      adminToken = undefined; // one-time
      const push = JSON.parse(body) as { secrets: Record<string, { value: string }> };
      const stubs: Record<string, string> = {};
      for (const key of Object.keys(push.secrets))
        stubs[key] = `stub_${key.toLowerCase()}_${crypto.randomBytes(3).toString('hex')}`;
      fs.writeFileSync(
        env.VAULT_ENV_FILE!,
        Object.entries(stubs)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
        {
          mode: 0o600,
        },
      );
      console.log(JSON.stringify({ msg: 'secrets received', keys: Object.keys(stubs) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ stubs }));
    });
  })
  .listen(Number(env.VAULT_ADMIN_PORT), '127.0.0.1', () => console.log('fake vault admin listening'));

// The egress proxy port: only listens (the fake harness makes no outbound calls).
http.createServer((_req, res) => res.writeHead(502).end()).listen(Number(env.VAULT_PORT), '127.0.0.1');

process.on('SIGTERM', () => process.exit(0));
