/**
 * Vault benchmark: the latency the vault adds per request and its throughput on 10 MB
 * bodies, side by side with a direct connection to the same server in the same run.
 *
 *   npm run bench:vault            (BENCH_REQUESTS=2000 BENCH_BODIES=10 to change the counts)
 *
 * The vault runs as its own process (sandbox/vault/src/main.ts), exactly as in a sandbox;
 * the client and the upstream HTTPS server share this process. Requests go over
 * keep-alive connections (as an agent's do): through the vault that is one CONNECT tunnel
 * with TLS interception, header swapping and a re-encrypted upstream connection.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { createCertificateAuthority, LeafCertificateIssuer } from '../src/ca';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const BODIES = Number(process.env.BENCH_BODIES ?? 10);
const BODY_BYTES = 10 * 1024 * 1024;
const REAL_KEY = 'sk-bench-real-key-0123456789';
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/** CPU seconds the process has used so far (user + system), from /proc; null elsewhere. */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startUpstream(cert: { certPem: string; keyPem: string }) {
  const body = Buffer.alloc(BODY_BYTES, 'a');
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      });
      res.end(body);
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function startVaultProcess(dir: string, caPaths: { cert: string; key: string; upstream: string }) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../src/main.ts')], {
    env: {
      PATH: process.env.PATH,
      VAULT_PORT: '0',
      VAULT_ADMIN_PORT: '0',
      VAULT_ADMIN_BIND_HOST: '127.0.0.1',
      VAULT_ADMIN_TOKEN: ADMIN_TOKEN,
      VAULT_ENV_FILE: path.join(dir, 'vault.env'),
      VAULT_CA_CERT_PATH: caPaths.cert,
      VAULT_CA_KEY_PATH: caPaths.key,
      VAULT_UPSTREAM_CA_PATH: caPaths.upstream,
      REAL_LITELLM_API_KEY: REAL_KEY,
      HOST_LITELLM_API_KEY: 'localhost',
      // info, as in production: one structured line per request is part of the vault's cost.
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports = await new Promise<{ proxy: number; admin: number }>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"proxy_port":(\d+),"admin_port":(\d+)/.exec(output);
      if (match) resolve({ proxy: Number(match[1]), admin: Number(match[2]) });
    });
    child.once('exit', (code) => reject(new Error(`vault exited (${code}): ${output}`)));
  });
  return { child, ports };
}

type Route = { dispatcher: Dispatcher; headers: Record<string, string> };

/** Sequential requests alternating between the routes, so both see the same machine load. */
async function timeRequests(routes: [Route, Route], url: string): Promise<[number[], number[]]> {
  const samples: [number[], number[]] = [[], []];
  for (let index = 0; index < REQUESTS + 100; index += 1) {
    for (const [which, route] of routes.entries()) {
      const started = process.hrtime.bigint();
      const response = await request(url, { dispatcher: route.dispatcher, headers: route.headers });
      await response.body.text();
      // The first 100 rounds warm up (JIT, TLS sessions, the vault's leaf certificate).
      if (index >= 100) samples[which]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return [samples[0].sort((a, b) => a - b), samples[1].sort((a, b) => a - b)];
}

/** MB/s moving BODIES 10 MB bodies, alternating between the routes body by body. */
async function throughput(
  routes: [Route, Route],
  url: string,
  direction: 'download' | 'upload',
): Promise<[number, number]> {
  const upload = Buffer.alloc(BODY_BYTES, 'b');
  const seconds = [0, 0];
  for (let index = 0; index < BODIES; index += 1) {
    for (const [which, route] of routes.entries()) {
      const started = process.hrtime.bigint();
      const response =
        direction === 'download'
          ? await request(`${url}/download`, { dispatcher: route.dispatcher })
          : await request(`${url}/upload`, {
              dispatcher: route.dispatcher,
              method: 'POST',
              // text: the vault streams it through the stub-swapping transform (its slowest path)
              headers: { 'content-type': 'text/plain' },
              body: upload,
            });
      for await (const _chunk of response.body) {
        // drain
      }
      seconds[which]! += Number(process.hrtime.bigint() - started) / 1e9;
    }
  }
  const megabytes = (BODIES * BODY_BYTES) / (1024 * 1024);
  return [megabytes / seconds[0]!, megabytes / seconds[1]!];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-vault-bench-'));
  const deploymentCa = createCertificateAuthority('bench deployment CA');
  const upstreamCa = createCertificateAuthority('bench upstream CA');
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  const caPaths = {
    cert: write('ca.pem', deploymentCa.certPem),
    key: write('ca.key', deploymentCa.keyPem),
    upstream: write('upstream-ca.pem', upstreamCa.certPem),
  };
  const upstream = await startUpstream(new LeafCertificateIssuer(upstreamCa).certificateFor('localhost'));
  const vault = await startVaultProcess(dir, caPaths);
  try {
    const admin = new Agent({ connect: { ca: deploymentCa.certPem, servername: 'lap-vault' } });
    const pushed = await request(`https://127.0.0.1:${vault.ports.admin}/v1/secrets`, {
      method: 'POST',
      dispatcher: admin,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ secrets: {} }),
    });
    const { stubs } = (await pushed.body.json()) as { stubs: Record<string, string> };
    await admin.close();

    const url = `https://localhost:${upstream.port}`;
    const direct = new Agent({ connect: { ca: upstreamCa.certPem }, connections: 1 });
    const viaVault = new ProxyAgent({
      uri: `http://127.0.0.1:${vault.ports.proxy}`,
      requestTls: { ca: deploymentCa.certPem },
      connections: 1,
    });

    const routes: [Route, Route] = [
      { dispatcher: direct, headers: { authorization: `Bearer ${REAL_KEY}` } },
      { dispatcher: viaVault, headers: { authorization: `Bearer ${stubs.LITELLM_API_KEY}` } },
    ];
    const [directLatency, vaultLatency] = await timeRequests(routes, `${url}/ping`);
    const rows: Array<[string, string, string, string]> = [];
    for (const p of [50, 99]) {
      const d = percentile(directLatency, p);
      const v = percentile(vaultLatency, p);
      rows.push([`latency p${p} (ms)`, d.toFixed(3), v.toFixed(3), `+${(v - d).toFixed(3)} ms`]);
    }
    const cpuNotes: string[] = [];
    for (const direction of ['download', 'upload'] as const) {
      const cpuBefore = cpuSeconds(vault.child.pid!);
      const [d, v] = await throughput(routes, url, direction);
      const cpuAfter = cpuSeconds(vault.child.pid!);
      rows.push([
        `${direction} 10 MB (MB/s)`,
        d.toFixed(1),
        v.toFixed(1),
        `${((v / d) * 100).toFixed(0)}% of direct`,
      ]);
      if (cpuBefore !== null && cpuAfter !== null) {
        // What the vault could sustain on a core of its own (the machine may be shared).
        const used = Math.max(cpuAfter - cpuBefore, 0.01);
        const megabytes = (BODIES * BODY_BYTES) / (1024 * 1024);
        cpuNotes.push(
          `${direction}: the vault used ${used.toFixed(2)} CPU s for ${megabytes} MB (${(megabytes / used).toFixed(0)} MB per vault CPU second)`,
        );
      }
    }
    await direct.close();
    await viaVault.close();

    const widths = [24, 12, 12, 20];
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' ');
    console.log(
      `vault benchmark: ${REQUESTS} sequential keep-alive requests and ${BODIES} x 10 MB bodies each way, ` +
        `direct and via the vault interleaved; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`,
    );
    console.log(line(['metric', 'direct', 'via vault', 'vault cost']));
    for (const row of rows) console.log(line(row));
    for (const note of cpuNotes) console.log(note);
    const addedP50 = percentile(vaultLatency, 50) - percentile(directLatency, 50);
    console.log(
      `targets: p50 added latency < 2 ms -> ${addedP50 < 2 ? 'met' : 'NOT met'}; throughput >= 80% of direct -> see above`,
    );
  } finally {
    vault.child.kill('SIGTERM');
    upstream.server.closeAllConnections();
    upstream.server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
