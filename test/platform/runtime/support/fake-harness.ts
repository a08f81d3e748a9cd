/**
 * A harness double that speaks sandbox/protocol and contract 7, for runtime tests:
 * waits for the vault's stub env file, fetches the boot spec, writes its files,
 * reports phases, serves /health (with `busy` and `harness_session_id`, 503 `dead`
 * once its "agent process" died), /turn (echo, one at a time: 409 while busy),
 * /abort, /events (SSE, replaying what it kept after Last-Event-ID; 0 = everything)
 * and /opencode/* (forwarded to FAKE_OPENCODE_URL when set, else 404).
 *
 * FAKE_HARNESS_MODE: `fail_boot` reports failed; `silent` never calls back (the
 * platform's health-probe fallback must notice it anyway); `hang` fetches its spec and
 * never listens.
 * Turn texts that act: `crash` exits; `fail` answers 500; `die` makes the agent process
 * "die" (/turn 502, /health 503 dead from then on); `slow <ms>` answers after <ms>
 * unless aborted; `stall <ms>` drops the connection and blocks the whole process for
 * <ms> (a stall: nothing answers, then everything does again); `nul` replies with a
 * NUL character in its text.
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
const kept: Array<{ id: number; event: HarnessEvent }> = [];
const harnessSessionId = `fake-session-${env.SANDBOX_ID}`;
let seq = 0;
let turns = 0;
let inFlight: { turnId: string; abort: () => void } | null = null;
let agentDied: string | null = null;

async function report(phase: PhaseReport): Promise<void> {
  if (mode === 'silent') return;
  await fetch(`${base}/phase`, { method: 'POST', headers: callbackHeaders, body: JSON.stringify(phase) });
}

function frame(id: number, event: HarnessEvent): string {
  return `event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(event)}\n\n`;
}

function emit(event: HarnessEvent): void {
  seq++;
  kept.push({ id: seq, event });
  for (const res of subscribers) res.write(frame(seq, event));
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
  if (mode === 'hang') {
    setInterval(() => undefined, 60_000); // alive, never listening
    return;
  }
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

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function turn(res: http.ServerResponse, body: string): void {
  const request = JSON.parse(body) as TurnRequest;
  const text = request.parts.map((p) => (p.type === 'text' ? String(p.text) : '')).join('');
  if (agentDied) return json(res, 502, { error: `opencode is gone: ${agentDied}` });
  if (inFlight) return json(res, 409, { error: `turn ${inFlight.turnId} is still running` });
  if (text === 'crash') process.exit(3);
  if (text === 'fail') return json(res, 500, { error: 'model call failed' });
  if (text === 'die') {
    agentDied = 'opencode exited (code 1, signal null)';
    return json(res, 502, { error: `opencode is gone: ${agentDied}` });
  }
  const stall = /^stall (\d+)$/.exec(text);
  if (stall) {
    res.socket?.destroy();
    const until = Date.now() + Number(stall[1]);
    while (Date.now() < until) {
      // a stalled process: no timer, no socket, nothing runs
    }
    return;
  }
  const turnId = `t${++turns}`;
  const finish = (reply: string) => {
    inFlight = null;
    const parts = [{ type: 'text', text: reply }];
    emit({ type: 'turn_done', turn_id: turnId, parts });
    json(res, 200, { parts });
  };
  emit({ type: 'turn_started', turn_id: turnId });
  emit({ type: 'token', turn_id: turnId, text: 'echo: ' });
  const slow = /^slow (\d+)$/.exec(text);
  if (slow) {
    const timer = setTimeout(() => finish(`echo: ${text}`), Number(slow[1]));
    inFlight = {
      turnId,
      abort: () => {
        clearTimeout(timer);
        inFlight = null;
        emit({ type: 'error', turn_id: turnId, message: 'the turn was aborted' });
        json(res, 409, { error: 'the turn was aborted' });
      },
    };
    return;
  }
  inFlight = { turnId, abort: () => undefined };
  finish(text === 'nul' ? 'echo: a\u0000b' : `echo: ${text}`);
}

function opencode(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!env.FAKE_OPENCODE_URL) return json(res, 404, { error: 'not an opencode harness' });
  const target = new URL(req.url!.replace(/^\/opencode/, ''), env.FAKE_OPENCODE_URL);
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'accept']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const upstream = http.request(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, {
      'content-type': answer.headers['content-type'] ?? 'application/json',
    });
    answer.pipe(res);
  });
  upstream.on('error', (err) => json(res, 502, { error: err.message }));
  req.pipe(upstream);
  res.on('close', () => upstream.destroy());
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    if (agentDied) return json(res, 503, { status: 'dead', reason: agentDied });
    return json(res, 200, {
      status: 'ok',
      harness_id: env.HARNESS_ID,
      supports_tui: false,
      harness_session_id: harnessSessionId,
      busy: inFlight !== null,
    });
  }
  if (!authorized(req)) return res.writeHead(401).end('{"error":"unauthorized"}');
  if (req.url?.startsWith('/opencode/')) return opencode(req, res);
  if (req.url === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const last = req.headers['last-event-id'];
    if (typeof last === 'string' && /^\d+$/.test(last))
      for (const entry of kept) if (entry.id > Number(last)) res.write(frame(entry.id, entry.event));
    res.write(': connected\n\n');
    subscribers.add(res);
    req.on('close', () => subscribers.delete(res));
    return;
  }
  if (req.url === '/abort' && req.method === 'POST') {
    inFlight?.abort();
    return res.writeHead(204).end();
  }
  if (req.url === '/turn' && req.method === 'POST') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => turn(res, body));
    return;
  }
  res.writeHead(404).end('{"error":"not found"}');
});

process.on('SIGTERM', () => process.exit(0));
boot().catch((err: Error) => {
  console.error(`boot failed: ${err.message}`);
  process.exit(1);
});
