/**
 * A small harness double that speaks sandbox/protocol, for runtime tests until the
 * real harness lands: waits for the vault's stub env file, fetches the boot spec,
 * writes its files, reports phases, serves /health, /turn (echo) and /events (SSE).
 * FAKE_HARNESS_MODE: `fail_boot` reports failed; `silent` never calls back
 * (the platform's health-probe fallback must notice it anyway); `hang` fetches its spec and never listens.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { HarnessEvent, PhaseReport, SandboxBootSpec, TurnRequest } from '@lap/sandbox-protocol';

const env = process.env;
const mode = env.FAKE_HARNESS_MODE ?? 'normal';
const base = `${env.CALLBACK_URL}/api/v1/internal/sandboxes/${env.SANDBOX_ID}`;
const callbackHeaders = { authorization: `Bearer ${env.CALLBACK_TOKEN}`, 'content-type': 'application/json' };
const subscribers = new Set<http.ServerResponse>();
let seq = 0;

async function report(phase: PhaseReport): Promise<void> {
  if (mode === 'silent') return;
  await fetch(`${base}/phase`, { method: 'POST', headers: callbackHeaders, body: JSON.stringify(phase) });
}

function emit(event: HarnessEvent): void {
  seq++;
  for (const res of subscribers)
    res.write(`event: ${event.type}\nid: ${seq}\ndata: ${JSON.stringify(event)}\n\n`);
}

function authorized(req: http.IncomingMessage): boolean {
  return req.headers.authorization === `Bearer ${env.HARNESS_TOKEN}`;
}

async function boot(): Promise<void> {
  while (!fs.existsSync(env.VAULT_ENV_FILE!)) await new Promise((r) => setTimeout(r, 50));
  const stubs = fs.readFileSync(env.VAULT_ENV_FILE!, 'utf8');
  console.log(
    JSON.stringify({
      msg: 'stub env loaded',
      keys: stubs
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('=')[0]),
    }),
  );
  const res = await fetch(`${base}/spec`, { headers: callbackHeaders });
  if (!res.ok) throw new Error(`spec fetch failed: ${res.status}`);
  const spec = (await res.json()) as SandboxBootSpec;
  for (const file of spec.files) {
    const target = file.path.startsWith('~')
      ? path.join(env.HOME!, file.path.slice(1))
      : path.join(env.HOME!, 'root', file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, Buffer.from(file.content_base64, 'base64'));
  }
  fs.writeFileSync(path.join(env.HOME!, 'prompt.txt'), spec.prompt);
  if (mode === 'hang') return;
  if (mode === 'fail_boot') {
    await report({ phase: 'failed', failure_reason: 'git clone failed: repository not found' });
    return;
  }
  await report({ phase: 'cloning_repo', detail: spec.repo_url ?? 'none' });
  await report({ phase: 'installing_deps' });
  server.listen(Number(env.PORT), '127.0.0.1', () => {
    console.log('fake harness listening');
    void report({ phase: 'harness_listening' });
  });
}

const server = http.createServer((req, res) => {
  if (req.url === '/health')
    return res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'ok', harness_id: env.HARNESS_ID, supports_tui: false }));
  if (!authorized(req)) return res.writeHead(401).end('{"error":"unauthorized"}');
  if (req.url === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': connected\n\n');
    subscribers.add(res);
    req.on('close', () => subscribers.delete(res));
    return;
  }
  if (req.url === '/turn' && req.method === 'POST') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const turn = JSON.parse(body) as TurnRequest;
      const text = turn.parts.map((p) => (p.type === 'text' ? String(p.text) : '')).join('');
      if (text === 'crash') process.exit(3);
      if (text === 'fail') return res.writeHead(500).end('{"error":"model call failed"}');
      // What the real harness answers while another turn is running.
      if (text === 'busy') return res.writeHead(409).end('{"error":"turn t0 is still running"}');
      const turnId = `t${seq + 1}`;
      emit({ type: 'turn_started', turn_id: turnId });
      emit({ type: 'token', turn_id: turnId, text: 'echo: ' });
      const parts = [{ type: 'text', text: `echo: ${text}` }];
      emit({ type: 'turn_done', turn_id: turnId, parts });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ parts }));
    });
    return;
  }
  res.writeHead(404).end('{"error":"not found"}');
});

process.on('SIGTERM', () => process.exit(0));
boot().catch((err: Error) => {
  console.error(`boot failed: ${err.message}`);
  process.exit(1);
});
