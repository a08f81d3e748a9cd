/**
 * `npm run bench:api`: throughput and latency of the control-plane API in local mode.
 *
 * Starts `npm run local` (platform/src/local/main.ts: embedded PostgreSQL, web +
 * worker, local launcher) as a child process on a free port with a throwaway
 * LAP_DATA_DIR, seeds agents through the API, then drives it with autocannon:
 *   1. GET /api/v1/managed_agents/agents?limit=50 (target: >= 3,000 req/s, p99 < 20 ms),
 *      served from the rendered page cache while no agent changes, as in a steady list;
 *   2. the same page while agents change (BENCH_WRITES_PER_S PATCHes a second, 20 by
 *      default): each change invalidates the cached pages, so this shows the cost of
 *      re-rendering pages under writes;
 *   3. POST /api/v1/managed_agents/agents/{id}/session, a bounded number of requests:
 *      each one queues a real sandbox bring-up, which the local worker starts running
 *      (up to 8 at a time) while the benchmark is still going.
 * Prints req/s and p50/p99 latency for each. Env: BENCH_AGENTS (1000), BENCH_DURATION_S (10),
 * BENCH_CONNECTIONS (10), BENCH_SESSIONS (200).
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 200);
const WRITES_PER_S = Number(process.env.BENCH_WRITES_PER_S ?? 20);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHealth(baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`local mode did not answer ${baseUrl}/healthz within ${timeoutMs} ms`);
}

// Linux clock ticks per second for /proc/<pid>/stat times (CLK_TCK, 100 on every common kernel).
const CLOCK_TICKS = 100;

/**
 * CPU seconds used so far by the process tree under pid (local mode: Node plus its
 * PostgreSQL server and backends). Divided by the requests served, it gives the
 * platform's CPU cost per request, which, unlike req/s, does not depend on how busy
 * the rest of the machine is.
 */
function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
      });
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.pop()!;
    total += stats.get(current)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === current) queue.push(child);
  }
  return total;
}

interface Figures {
  name: string;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Platform CPU (Node + PostgreSQL) per request, in ms. */
  cpuMsPerRequest: number;
}

async function measure(name: string, serverPid: number, options: autocannon.Options): Promise<Figures> {
  const cpuBefore = treeCpuSeconds(serverPid);
  const result = await autocannon(options);
  const cpu = treeCpuSeconds(serverPid) - cpuBefore;
  return {
    cpuMsPerRequest: Number(((cpu * 1000) / Math.max(1, result.requests.total)).toFixed(3)),
    name,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-bench-'));
  // embedded PostgreSQL runs as user postgres when we are root: it must be able to enter the folder.
  fs.chmodSync(dataDir, 0o777);
  const port = await freePort();
  const masterKey = `bench-${crypto.randomBytes(16).toString('hex')}`;
  const baseUrl = `http://127.0.0.1:${port}`;
  console.log(`starting local mode on ${baseUrl} (data in ${dataDir})`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'platform/src/local/main.ts')],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        MASTER_KEY: masterKey,
        LAP_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        WARM_POOL_SIZE: '0',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await waitForHealth(baseUrl, 120_000);
    const headers = { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' };

    const started = Date.now();
    let agentId = '';
    for (let i = 0; i < AGENTS; i++) {
      const res = await fetch(`${baseUrl}/api/v1/managed_agents/agents`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: `bench-agent-${i}`,
          model: 'anthropic/claude-haiku-4-5',
          prompt: 'You are a benchmark agent.',
          harness_id: 'opencode',
          env_vars: { GITHUB_TOKEN: `ghp_bench_${i}` },
          allow_out: ['*.github.com', 'pypi.org'],
        }),
      });
      if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
      agentId = ((await res.json()) as { id: string }).id;
    }
    console.log(`seeded ${AGENTS} agents in ${Date.now() - started} ms`);

    // The floor: what any request costs on this machine right now (no auth, no database).
    const floor = await measure('GET /healthz (baseline)', child.pid!, {
      url: `${baseUrl}/healthz`,
      connections: CONNECTIONS,
      duration: Math.max(2, Math.round(DURATION_S / 2)),
    });
    // Warm-up, not measured: JIT compilation and the rendered-agent cache, as in a long-running service.
    await autocannon({
      url: `${baseUrl}/api/v1/managed_agents/agents?limit=50`,
      headers,
      connections: CONNECTIONS,
      duration: 3,
    });
    const list = await measure('GET /api/v1/managed_agents/agents?limit=50', child.pid!, {
      url: `${baseUrl}/api/v1/managed_agents/agents?limit=50`,
      headers,
      connections: CONNECTIONS,
      duration: DURATION_S,
    });
    // Patch agents at a steady rate, one request at a time, while the list is measured.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        const next = Date.now() + 1000 / WRITES_PER_S;
        const res = await fetch(`${baseUrl}/api/v1/managed_agents/agents/${agentId}`, {
          method: 'PATCH',
          headers,
          body: JSON.stringify({ prompt: `You are a benchmark agent, edit ${writes}.` }),
        });
        if (res.status !== 200) throw new Error(`agent patch failed: ${res.status} ${await res.text()}`);
        writes++;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    })();
    const underWrites = await measure(
      `GET /api/v1/managed_agents/agents?limit=50 (${WRITES_PER_S} agent PATCH/s)`,
      child.pid!,
      {
        url: `${baseUrl}/api/v1/managed_agents/agents?limit=50`,
        headers,
        connections: CONNECTIONS,
        duration: DURATION_S,
      },
    );
    writing = false;
    await writer;
    const create =
      SESSIONS <= 0
        ? null
        : await measure(
            `POST /api/v1/managed_agents/agents/{id}/session (${SESSIONS} requests)`,
            child.pid!,
            {
              url: `${baseUrl}/api/v1/managed_agents/agents/${agentId}/session`,
              method: 'POST',
              headers,
              body: JSON.stringify({ title: 'bench' }),
              connections: CONNECTIONS,
              amount: SESSIONS,
            },
          );

    console.log('');
    // This machine may be shared: the load average tells how much of it the benchmark had.
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    console.log(
      `API benchmark, local mode, ${os.cpus().length} cores, ${CONNECTIONS} connections, load average ${load}`,
    );
    console.table(
      [floor, list, underWrites, create].flatMap((f) =>
        !f
          ? []
          : {
              route: f.name,
              'req/s': f.reqPerSec,
              'p50 ms': f.p50,
              'p99 ms': f.p99,
              'platform CPU ms/req': f.cpuMsPerRequest,
              requests: f.requests,
              'non-2xx': f.non2xx,
              errors: f.errors,
            },
      ),
    );
    const listOk = list.reqPerSec >= 3000 && list.p99 < 20 && list.non2xx === 0;
    console.log(`list target (>= 3000 req/s, p99 < 20 ms): ${listOk ? 'met' : 'NOT met'}`);

    // Stop the sandboxes the session creates started, through the API (agent delete stops them).
    await fetch(`${baseUrl}/api/v1/managed_agents/agents/${agentId}`, { method: 'DELETE', headers });
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`bench:api failed: ${err.message}`);
  process.exit(1);
});
