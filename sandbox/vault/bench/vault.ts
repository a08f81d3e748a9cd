/**
 * Vault benchmark: the latency the vault adds per request and its throughput on 10 MB
 * bodies, side by side with a direct connection to the same server in the same run.
 *
 *   npm run bench:vault            (BENCH_REQUESTS=2000 BENCH_BODIES=30 to change the counts;
 *                                   BENCH_VAULT_NODE_OPTIONS="--cpu-prof" to profile the vault)
 *
 * The vault runs as its own process (sandbox/vault/src/main.ts, which starts its native
 * relay), exactly as in a sandbox; the client and the upstream HTTPS server share this
 * process. Requests go over keep-alive connections (as an agent's do): through the vault
 * that is one CONNECT tunnel with TLS interception, header swapping, re-stubbing of the
 * answer and a re-encrypted upstream connection.
 *
 * Throughput has a third route for scale: a plain TCP relay process (bytes forwarded, no
 * TLS interception, large socket buffers), i.e. what any extra process in the path costs
 * on this machine before the vault does any work of its own. CPU seconds per 100 MB are
 * printed for this process and for the relay or vault process (with its relay child), and
 * how many of the machine's cores the route kept busy: a route that needs every core is
 * limited by the machine, not by its own design.
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
const BODIES = Number(process.env.BENCH_BODIES ?? 30);
const BODY_BYTES = 10 * 1024 * 1024;
const REAL_KEY = 'sk-bench-real-key-0123456789';
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/** The TCP relay's socket buffers: large, so it is not the bottleneck it measures. */
const RELAY_BUFFER_BYTES = 256 * 1024;

/**
 * CPU seconds (user + system) a process and its children (the vault's relay) have used
 * so far, from /proc; null elsewhere.
 */
function cpuSeconds(pid: number): number | null {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
    return [pid, ...children.map(Number)].reduce((total, id) => {
      const fields = fs.readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return total + (Number(fields[11]) + Number(fields[12])) / 100;
    }, 0);
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

/** A process that forwards TCP connections on a port to the upstream, untouched. */
async function startRelayProcess(upstreamPort: number) {
  const script = `
    const net = require('node:net');
    const options = { highWaterMark: ${RELAY_BUFFER_BYTES} };
    const server = net.createServer(options, (client) => {
      const upstream = net.connect({ ...options, port: ${upstreamPort}, host: '127.0.0.1' });
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`relay exited (${code})`)));
  });
  return { child, port };
}

async function startVaultProcess(dir: string, caPaths: { cert: string; key: string; upstream: string }) {
  const nodeOptions = (process.env.BENCH_VAULT_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const vaultMain = path.resolve(__dirname, '../src/main.ts');
  const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', vaultMain], {
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

type Route = {
  name: string;
  dispatcher: Dispatcher;
  headers: Record<string, string>;
  /** The URL's origin through this route. */
  origin: string;
  /** The process in the path between client and upstream, if any. */
  hopPid?: number;
};

/** Sequential requests alternating between the routes, so both see the same machine load. */
async function timeRequests(routes: [Route, Route], path: string): Promise<[number[], number[]]> {
  const samples: [number[], number[]] = [[], []];
  for (let index = 0; index < REQUESTS + 100; index += 1) {
    for (const [which, route] of routes.entries()) {
      const started = process.hrtime.bigint();
      const response = await request(`${route.origin}${path}`, {
        dispatcher: route.dispatcher,
        headers: route.headers,
      });
      await response.body.text();
      // The first 100 rounds warm up (JIT, TLS sessions, the vault's leaf certificate).
      if (index >= 100) samples[which]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return [samples[0].sort((a, b) => a - b), samples[1].sort((a, b) => a - b)];
}

interface Throughput {
  megabytesPerSecond: number;
  /**
   * Median over rounds of (direct's time / this route's time) for the same body in the same
   * round: a paired figure, so a hiccup of the shared machine moves both sides of a pair.
   */
  ofDirect: number;
  /** CPU seconds per 100 MB: this process (client and upstream), and the process in between. */
  benchCpuPer100Mb: number;
  hopCpuPer100Mb: number | null;
  /** CPU seconds (this process and the one in between) per second of transfer. */
  coresBusy: number;
}

/**
 * Moves BODIES 10 MB bodies over each route, in rounds: one body per route, back to back.
 * routes[0] is the direct route the others are compared with. Each round starts one route
 * later than the last, so every route runs equally often right after each other route: with
 * a fixed order, the route that always followed the TCP relay measured about 10 points lower
 * than the same route following direct.
 */
async function throughput(routes: Route[], direction: 'download' | 'upload'): Promise<Throughput[]> {
  const upload = Buffer.alloc(BODY_BYTES, 'b');
  const totals = routes.map(() => ({ seconds: 0, benchCpu: 0, hopCpu: 0, ratios: [] as number[] }));
  for (let index = 0; index < BODIES; index += 1) {
    const seconds: number[] = [];
    for (let position = 0; position < routes.length; position += 1) {
      const which = (index + position) % routes.length;
      const route = routes[which]!;
      const benchBefore = process.cpuUsage();
      const hopBefore = route.hopPid === undefined ? null : cpuSeconds(route.hopPid);
      const started = process.hrtime.bigint();
      const response =
        direction === 'download'
          ? await request(`${route.origin}/download`, { dispatcher: route.dispatcher })
          : await request(`${route.origin}/upload`, {
              dispatcher: route.dispatcher,
              method: 'POST',
              // text to a host with a body: true binding: streamed through the stub swapper
              headers: { 'content-type': 'text/plain' },
              body: upload,
            });
      for await (const _chunk of response.body) {
        // drain
      }
      const total = totals[which]!;
      seconds[which] = Number(process.hrtime.bigint() - started) / 1e9;
      total.seconds += seconds[which]!;
      const bench = process.cpuUsage(benchBefore);
      total.benchCpu += (bench.user + bench.system) / 1e6;
      const hopAfter = route.hopPid === undefined ? null : cpuSeconds(route.hopPid);
      if (hopBefore !== null && hopAfter !== null) total.hopCpu += hopAfter - hopBefore;
    }
    for (const [which, total] of totals.entries()) total.ratios.push(seconds[0]! / seconds[which]!);
  }
  const megabytes = (BODIES * BODY_BYTES) / (1024 * 1024);
  return routes.map((route, which) => ({
    megabytesPerSecond: megabytes / totals[which]!.seconds,
    ofDirect: percentile(
      totals[which]!.ratios.sort((a, b) => a - b),
      50,
    ),
    benchCpuPer100Mb: (totals[which]!.benchCpu * 100) / megabytes,
    hopCpuPer100Mb: route.hopPid === undefined ? null : (totals[which]!.hopCpu * 100) / megabytes,
    coresBusy: (totals[which]!.benchCpu + totals[which]!.hopCpu) / totals[which]!.seconds,
  }));
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
  const relay = await startRelayProcess(upstream.port);
  try {
    const admin = new Agent({ connect: { ca: deploymentCa.certPem, servername: 'lap-vault' } });
    const pushed = await request(`https://127.0.0.1:${vault.ports.admin}/v1/secrets`, {
      method: 'POST',
      dispatcher: admin,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      // A value bound with body: true: the text upload below goes through the body swapper, the
      // vault's slowest path (by default a value is swapped into headers only). Every answer
      // is re-stubbed (the download scans all 10 MB for the values held).
      body: JSON.stringify({
        secrets: {
          BENCH_BODY_KEY: { value: 'bench-body-real-value-0123', hosts: ['localhost'], body: true },
        },
      }),
    });
    const { stubs } = (await pushed.body.json()) as { stubs: Record<string, string> };
    await admin.close();

    const direct: Route = {
      name: 'direct',
      dispatcher: new Agent({ connect: { ca: upstreamCa.certPem }, connections: 1 }),
      headers: { authorization: `Bearer ${REAL_KEY}` },
      origin: `https://localhost:${upstream.port}`,
    };
    const viaRelay: Route = {
      name: 'TCP relay',
      // TLS end to end with the upstream, through the relay's port.
      dispatcher: new Agent({ connect: { ca: upstreamCa.certPem, servername: 'localhost' }, connections: 1 }),
      headers: { authorization: `Bearer ${REAL_KEY}` },
      origin: `https://localhost:${relay.port}`,
      hopPid: relay.child.pid!,
    };
    const viaVault: Route = {
      name: 'via vault',
      dispatcher: new ProxyAgent({
        uri: `http://127.0.0.1:${vault.ports.proxy}`,
        requestTls: { ca: deploymentCa.certPem },
        connections: 1,
      }),
      headers: { authorization: `Bearer ${stubs.LITELLM_API_KEY}` },
      origin: `https://localhost:${upstream.port}`,
      hopPid: vault.child.pid!,
    };

    const [directLatency, vaultLatency] = await timeRequests([direct, viaVault], '/ping');
    // direct first: every route is compared with it.
    const routes = [direct, viaRelay, viaVault];
    const results = {
      download: await throughput(routes, 'download'),
      upload: await throughput(routes, 'upload'),
    };
    for (const route of routes) await route.dispatcher.close();

    console.log(
      `vault benchmark: ${REQUESTS} sequential keep-alive requests and ${BODIES} x 10 MB bodies each way per route, ` +
        `routes interleaved; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`,
    );
    const widths = [20, 12, 12, 14];
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' ');
    console.log(line(['latency', 'direct', 'via vault', 'added']));
    for (const p of [50, 99]) {
      const d = percentile(directLatency, p);
      const v = percentile(vaultLatency, p);
      console.log(
        line([`p${p} (ms)`, d.toFixed(3), v.toFixed(3), `${v >= d ? '+' : ''}${(v - d).toFixed(3)} ms`]),
      );
    }
    console.table(
      (['download', 'upload'] as const).flatMap((direction) =>
        routes.map((route, which) => {
          const result = results[direction][which]!;
          return {
            '10 MB bodies': `${direction} ${route.name}`,
            'MB/s': Number(result.megabytesPerSecond.toFixed(1)),
            'of direct (median pair)': `${(result.ofDirect * 100).toFixed(0)}%`,
            'bench CPU s/100 MB': Number(result.benchCpuPer100Mb.toFixed(2)),
            'relay or vault CPU s/100 MB':
              result.hopCpuPer100Mb === null ? '-' : Number(result.hopCpuPer100Mb.toFixed(2)),
            [`cores busy (of ${os.cpus().length})`]: Number(result.coresBusy.toFixed(2)),
          };
        }),
      ),
    );
    const addedP50 = percentile(vaultLatency, 50) - percentile(directLatency, 50);
    const worst = Math.min(
      ...(['download', 'upload'] as const).map((d) => results[d][routes.indexOf(viaVault)]!.ofDirect),
    );
    console.log(
      `targets: p50 added latency < 2 ms -> ${addedP50 < 2 ? 'met' : 'NOT met'}; ` +
        `throughput >= 80% of direct -> ${worst >= 0.8 ? 'met' : 'NOT met'} (${(worst * 100).toFixed(0)}% in the worse direction)`,
    );
  } finally {
    vault.child.kill('SIGTERM');
    relay.child.kill('SIGTERM');
    upstream.server.closeAllConnections();
    upstream.server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
