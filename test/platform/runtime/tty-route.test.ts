/**
 * The terminal of a TUI session through the platform (GET /sessions/{id}/tty, WebSocket),
 * against the real vault and the real harness running claude-code in a real PTY, with
 * test/clients/support/fake-tui-program.ts standing in for the `claude` binary. Acted out as
 * clients act: our CLI's way (master key), the upstream CLI's way (tty_token as ?token= and
 * Bearer), and an attacker's (no key, a wrong key, the master key in the URL, another
 * session's or an expired tty_token, the tty_token against the harness itself).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket, type RawData } from 'ws';
import { ttyToken } from '../../../platform/src/sandbox/tokens';
import { publicTtyUrl } from '../../../platform/src/api/routes/tty';
import { installFakeTuiPrograms } from '../../clients/support/fake-tui-program';
import { waitUntil } from '../../clients/support/loopback';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway';
import { closed } from '../../support/websocket';
import {
  BASE,
  MASTER_KEY,
  SIGNING_KEY,
  startRuntimeFixture,
  waitForStatus,
  type ApiSessionBody,
  type RuntimeFixture,
} from './support/runtime-fixture';

interface TtySession extends ApiSessionBody {
  tty_url: string | null;
  tty_token: string | null;
  supports_tui: boolean;
}

/** A WebSocket attempt: open (with everything received since the handshake), or refused over HTTP. */
type Attempt =
  | { open: true; socket: WebSocket; screen: () => string }
  | { open: false; status: number; body: { error: string } };

function attach(url: string, headers: Record<string, string> = {}): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    let screen = '';
    socket.on('message', (data: RawData) => (screen += data.toString()));
    socket.once('open', () => resolve({ open: true, socket, screen: () => screen }));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () =>
        resolve({ open: false, status: response.statusCode ?? 0, body: JSON.parse(body || '{}') }),
      );
    });
    socket.once('error', reject);
  });
}

function opened(attempt: Attempt): Extract<Attempt, { open: true }> {
  if (!attempt.open) throw new Error(`refused: ${attempt.status} ${JSON.stringify(attempt.body)}`);
  return attempt;
}

describe('the terminal through the platform (real harness, claude-code in a PTY)', () => {
  let fx: RuntimeFixture;
  let gateway: FakeLlmGateway;
  let home: string;
  let tuiAgent: string;

  beforeAll(async () => {
    gateway = await startFakeLlmGateway();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-tty-route-'));
    const fakeTui = installFakeTuiPrograms(home);
    fx = await startRuntimeFixture({
      realHarness: { gatewayUrl: `${gateway.url}/v1`, gatewayKey: 'sk-real-gateway-key-tty' },
      sandboxEnv: { HARNESS_TTY_COMMAND: path.join(fakeTui, 'claude') },
      creatingTimeoutMs: 120_000,
    });
    tuiAgent = (
      await fx.api<{ id: string }>('POST', `${BASE}/agents`, { model: 'm', harness_id: 'claude-code' })
    ).body.id;
  }, 120_000);
  afterAll(async () => {
    await fx?.close();
    await gateway?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  async function tuiSession(): Promise<TtySession> {
    const created = await fx.api<TtySession>('POST', `${BASE}/agents/${tuiAgent}/session`, {});
    await waitForStatus(fx, created.body.id, ['ready'], 90_000);
    return (await fx.api<TtySession>('GET', `${BASE}/sessions/${created.body.id}`)).body;
  }
  const masterKey = { authorization: `Bearer ${MASTER_KEY}` };

  it('a client attaches with the master key while the session is still creating: keys, resize, detach, re-attach', async () => {
    const created = await fx.api<TtySession>('POST', `${BASE}/agents/${tuiAgent}/session`, {});
    expect(created.body.status).toBe('creating');
    const wsBase = fx.baseUrl.replace(/^http/, 'ws');
    expect(created.body.tty_url).toBe(`${wsBase}${BASE}/sessions/${created.body.id}/tty`);

    // Waits for ready like /stream does, then upgrades.
    const first = opened(await attach(created.body.tty_url!, masterKey));
    await waitUntil(() => first.screen().includes('fake tui ready'), 15_000, 'the program to start');
    first.socket.send(Buffer.from('hello through the platform\r'));
    await waitUntil(() => first.screen().includes('tui got: hello through the platform'), 15_000, 'the echo');
    first.socket.send(JSON.stringify({ type: 'resize', cols: 90, rows: 20 }));
    await waitUntil(() => first.screen().includes('size: 20 90'), 15_000, 'the resize');
    const detached = closed(first.socket);
    first.socket.close(1000);
    expect((await detached).code).toBe(1000);

    // The terminal kept running: a second attach (/v1 alias) sees its scrollback and types on.
    const again = opened(
      await attach(`${wsBase}/v1/managed_agents/sessions/${created.body.id}/tty`, masterKey),
    );
    await waitUntil(
      () => again.screen().includes('tui got: hello through the platform'),
      15_000,
      'the scrollback',
    );
    again.socket.send(Buffer.from('second\r'));
    await waitUntil(() => again.screen().includes('tui got: second'), 15_000, 'the second echo');

    // Stopping the session ends the terminal: the client is told, not left hanging (1001 when
    // the harness says goodbye, 1011 when its process went first).
    const ended = closed(again.socket);
    await fx.api('POST', `${BASE}/sessions/${created.body.id}/stop`);
    const end = await ended;
    expect([1001, 1011]).toContain(end.code);
    expect(end.reason).not.toBe('');
  }, 150_000);

  it("the upstream CLI's way: tty_token as ?token= and as Bearer, no master key", async () => {
    const session = await tuiSession();
    expect(session.tty_token).toMatch(/^\d+\.[0-9a-f]{64}$/);
    const url = `${session.tty_url}?token=${encodeURIComponent(session.tty_token!)}`;
    const upstream = opened(await attach(url, { authorization: `Bearer ${session.tty_token}` }));
    await waitUntil(() => upstream.screen().includes('fake tui ready'), 15_000, 'the program');
    upstream.socket.close();
    const headerOnly = opened(
      await attach(session.tty_url!, { authorization: `Bearer ${session.tty_token}` }),
    );
    headerOnly.socket.close();
    await fx.api('POST', `${BASE}/sessions/${session.id}/stop`);
  }, 120_000);

  it("refuses before any upgrade: no credentials, a wrong key, the master key in the URL, another session's or an expired tty_token", async () => {
    const session = await tuiSession();
    const other = await fx.api<TtySession>('POST', `${BASE}/agents/${tuiAgent}/session`, {});
    const url = session.tty_url!;
    const refusals: Array<[string, Attempt]> = [
      ['no credentials', await attach(url)],
      ['wrong key', await attach(url, { authorization: 'Bearer not-the-master-key' })],
      ['master key in the URL', await attach(`${url}?token=${MASTER_KEY}`)],
      ["another session's tty_token", await attach(`${url}?token=${other.body.tty_token}`)],
      [
        'an expired tty_token',
        await attach(`${url}?token=${ttyToken(SIGNING_KEY, session.id, Date.now() - 60 * 60_000)}`),
      ],
      [
        'a tty_token of another key',
        await attach(`${url}?token=${ttyToken('some-other-key-0123456', session.id)}`),
      ],
    ];
    for (const [what, attempt] of refusals) {
      expect({ what, open: attempt.open }).toEqual({ what, open: false });
      if (!attempt.open) {
        expect({ what, status: attempt.status }).toEqual({ what, status: 401 });
        expect(attempt.body.error).toMatch(/bearer|tty_token|credentials/);
      }
    }
    await fx.api('POST', `${BASE}/sessions/${session.id}/stop`);
    await fx.api('POST', `${BASE}/sessions/${other.body.id}/stop`);
  }, 120_000);

  it('the tty_token opens nothing else: not the harness (/turn, /tty, /events), not the API', async () => {
    const session = await tuiSession();
    const token = session.tty_token!;
    const diagnosis = await fx.api<{ session: { sandbox_url: string } }>(
      'GET',
      `${BASE}/sessions/${session.id}/diagnose`,
    );
    const harness = diagnosis.body.session.sandbox_url;
    expect(harness).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const turn = await fetch(`${harness}/turn`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ parts: [{ type: 'text', text: 'hi' }] }),
    });
    expect(turn.status).toBe(401);
    const events = await fetch(`${harness}/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(events.status).toBe(401);
    const direct = await attach(`${harness.replace(/^http/, 'ws')}/tty?token=${token}`, {
      authorization: `Bearer ${token}`,
    });
    expect(direct.open ? 'open' : direct.status).toBe(401);
    const api = await fetch(`${fx.baseUrl}${BASE}/sessions/${session.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(api.status).toBe(401);
    await fx.api('POST', `${BASE}/sessions/${session.id}/stop`);
  }, 120_000);

  it('the public session view holds no private address or task; diagnose keeps them for operators', async () => {
    const session = await tuiSession();
    const diagnosis = await fx.api<{ session: { sandbox_url: string; task_arn: string } }>(
      'GET',
      `${BASE}/sessions/${session.id}/diagnose`,
    );
    const harness = diagnosis.body.session.sandbox_url;
    const harnessPort = new URL(harness).port;
    expect(diagnosis.body.session.task_arn).toBe(`local:${session.id}`);
    const views = [
      JSON.stringify(session),
      JSON.stringify((await fx.api('GET', `${BASE}/sessions?limit=100`)).body),
      JSON.stringify((await fx.api('POST', `${BASE}/sessions/${session.id}/stop`)).body),
    ];
    for (const view of views) {
      expect(view).not.toContain(`:${harnessPort}`);
      expect(view).not.toContain(`local:${session.id}`);
    }
    expect(session).toMatchObject({ sandbox_url: null, task_arn: null, supports_tui: true });
    const dead = (await fx.api<TtySession>('GET', `${BASE}/sessions/${session.id}`)).body;
    expect(dead).toMatchObject({ status: 'dead', tty_url: null, tty_token: null });
  }, 120_000);

  it('HTTP answers before the upgrade: 404 unknown, 409 not a terminal, 410 dead, 426 not a WebSocket', async () => {
    const wsBase = fx.baseUrl.replace(/^http/, 'ws');
    const unknown = await attach(
      `${wsBase}${BASE}/sessions/00000000-0000-4000-8000-000000000000/tty`,
      masterKey,
    );
    expect(unknown.open ? 'open' : unknown.status).toBe(404);
    const noRoute = await attach(`${wsBase}/api/v1/managed_agents/no-such-route`, masterKey);
    expect(noRoute.open ? 'open' : noRoute.status).toBe(404);

    const sdkAgent = await fx.api<{ id: string }>('POST', `${BASE}/agents`, {
      model: 'm',
      harness_id: 'claude-agent-sdk',
    });
    const sdk = await fx.api<TtySession>('POST', `${BASE}/agents/${sdkAgent.body.id}/session`, {});
    expect(sdk.body).toMatchObject({ supports_tui: false, tty_url: null, tty_token: null });
    await waitForStatus(fx, sdk.body.id, ['ready'], 90_000);
    const notTui = await attach(`${wsBase}${BASE}/sessions/${sdk.body.id}/tty`, masterKey);
    expect(notTui.open ? 'open' : notTui.status).toBe(409);
    if (!notTui.open) expect(notTui.body.error).toMatch(/claude-agent-sdk harness, which has no terminal/);
    await fx.api('POST', `${BASE}/sessions/${sdk.body.id}/stop`);

    const session = await tuiSession();
    const plain = await fetch(`${fx.baseUrl}${BASE}/sessions/${session.id}/tty`, {
      headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    expect(plain.status).toBe(426);
    await fx.api('POST', `${BASE}/sessions/${session.id}/stop`);
    const dead = await attach(session.tty_url!, masterKey);
    expect(dead.open ? 'open' : dead.status).toBe(410);
  }, 150_000);

  it('tty_url is a path on the API host when BASE_URL is not set', () => {
    expect(publicTtyUrl(null, 'abc')).toBe('/api/v1/managed_agents/sessions/abc/tty');
    expect(publicTtyUrl('https://lap.example.com/', 'abc')).toBe(
      'wss://lap.example.com/api/v1/managed_agents/sessions/abc/tty',
    );
  });
});
