/**
 * The platform's terminal pipe (platform/src/api/terminal-pipe.ts) between real WebSockets on
 * loopback: a stand-in for the harness's /tty (a ws server that records what it gets), the
 * platform side (openTerminal + pipeTerminal, as the route runs them) and a client.
 * Framing, close codes both ways, keepalive against a client that stopped answering, and
 * backpressure against a flood toward a client that does not read.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { openTerminal } from '../../../platform/src/harness/client';
import { pipeTerminal, type TerminalEnd } from '../../../platform/src/api/terminal-pipe';
import { waitUntil } from '../../clients/support/loopback';
import { closed } from '../../support/websocket';

const TOKEN = 'harness-token-for-the-pipe-test';

interface Rig {
  /** The harness side of the current attach (the stand-in's socket). */
  harnessSide(): Promise<WebSocket>;
  connect(options?: ConstructorParameters<typeof WebSocket>[2]): Promise<WebSocket>;
  ends: TerminalEnd[];
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function startRig(pipe: { keepaliveMs: number; highWaterBytes: number }): Promise<Rig> {
  const harnessHttp = http.createServer();
  const harnessWss = new WebSocketServer({ server: harnessHttp });
  const harnessSockets: WebSocket[] = [];
  const waiting: Array<(socket: WebSocket) => void> = [];
  harnessWss.on('connection', (socket, request) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return socket.close(4401, 'bad token');
    record(socket);
    socket.send('screen so far\r\n');
    const next = waiting.shift();
    if (next) next(socket);
    else harnessSockets.push(socket);
  });
  const harnessPort = await listen(harnessHttp);

  const ends: TerminalEnd[] = [];
  const platformHttp = http.createServer();
  const platformWss = new WebSocketServer({ noServer: true });
  platformHttp.on('upgrade', (request, socket, head) => {
    void openTerminal(`http://127.0.0.1:${harnessPort}`, TOKEN, new AbortController().signal).then(
      (terminal) =>
        platformWss.handleUpgrade(request, socket, head, (client) => {
          void pipeTerminal(client, terminal, pipe).done.then((end) => ends.push(end));
        }),
    );
  });
  const platformPort = await listen(platformHttp);

  return {
    ends,
    harnessSide: () =>
      new Promise((resolve) => {
        const ready = harnessSockets.shift();
        if (ready) resolve(ready);
        else waiting.push(resolve);
      }),
    connect: (options) =>
      new Promise((resolve, reject) => {
        const socket = record(new WebSocket(`ws://127.0.0.1:${platformPort}/tty`, options));
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      }),
    async close() {
      for (const socket of [...harnessWss.clients, ...platformWss.clients]) socket.terminate();
      await new Promise((resolve) => harnessHttp.close(resolve));
      await new Promise((resolve) => platformHttp.close(resolve));
    },
  };
}

type Frame = { text: string; isBinary: boolean };
const inbox = new WeakMap<WebSocket, { frames: Frame[]; waiting: Array<(frame: Frame) => void> }>();

/** Records a socket's frames from its creation: the first can come with the handshake. */
function record(socket: WebSocket): WebSocket {
  const box = { frames: [] as Frame[], waiting: [] as Array<(frame: Frame) => void> };
  inbox.set(socket, box);
  socket.on('message', (data: RawData, isBinary) => {
    const frame = { text: data.toString(), isBinary };
    const next = box.waiting.shift();
    if (next) next(frame);
    else box.frames.push(frame);
  });
  return socket;
}

function nextMessage(socket: WebSocket): Promise<Frame> {
  const box = inbox.get(socket)!;
  const frame = box.frames.shift();
  return frame ? Promise.resolve(frame) : new Promise((resolve) => box.waiting.push(resolve));
}

describe('terminal pipe', () => {
  let rig: Rig;
  afterEach(async () => rig?.close());

  it('passes the screen replay, keystrokes (binary) and resizes (text) as they are', async () => {
    rig = await startRig({ keepaliveMs: 10_000, highWaterBytes: 1024 * 1024 });
    const client = await rig.connect();
    const screen = await nextMessage(client);
    expect(screen).toEqual({ text: 'screen so far\r\n', isBinary: false });
    const harness = await rig.harnessSide();

    const keys = nextMessage(harness);
    client.send(Buffer.from('ls\r'));
    expect(await keys).toEqual({ text: 'ls\r', isBinary: true });
    const resize = nextMessage(harness);
    client.send(JSON.stringify({ type: 'resize', cols: 90, rows: 20 }));
    expect(await resize).toEqual({ text: '{"type":"resize","cols":90,"rows":20}', isBinary: false });
    const output = nextMessage(client);
    harness.send(Buffer.from([0x1b, 0x5b, 0x48]));
    expect(await output).toEqual({ text: '\x1b[H', isBinary: true });
  });

  it('a client that leaves closes the harness side with 1000; the terminal ending reaches the client', async () => {
    rig = await startRig({ keepaliveMs: 10_000, highWaterBytes: 1024 * 1024 });
    const client = await rig.connect();
    const harness = await rig.harnessSide();
    const harnessClosed = closed(harness);
    client.close(1000);
    expect(await harnessClosed).toEqual({ code: 1000, reason: 'client detached' });
    await waitUntil(() => rig.ends.length === 1, 5000, 'the pipe to end');
    expect(rig.ends[0]).toMatchObject({ endedBy: 'client', code: 1000 });

    const again = await rig.connect();
    const harnessAgain = await rig.harnessSide();
    const clientClosed = closed(again);
    harnessAgain.close(1000, 'terminal exited with code 0');
    expect(await clientClosed).toEqual({ code: 1000, reason: 'terminal exited with code 0' });
  });

  it('a harness connection lost without a close frame closes the client with 1011', async () => {
    rig = await startRig({ keepaliveMs: 10_000, highWaterBytes: 1024 * 1024 });
    const client = await rig.connect();
    const harness = await rig.harnessSide();
    const clientClosed = closed(client);
    harness.terminate();
    expect(await clientClosed).toEqual({ code: 1011, reason: 'harness connection lost' });
  });

  it('pings the client; one that stops answering is cut and the harness side closed', async () => {
    rig = await startRig({ keepaliveMs: 150, highWaterBytes: 1024 * 1024 });
    const answering = await rig.connect();
    let pings = 0;
    answering.on('ping', () => pings++);
    await rig.harnessSide();
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(answering.readyState).toBe(WebSocket.OPEN);

    const silent = await rig.connect({ autoPong: false });
    const harness = await rig.harnessSide();
    const harnessClosed = closed(harness);
    const silentClosed = closed(silent);
    expect((await harnessClosed).code).toBe(1000);
    expect((await silentClosed).code).toBe(1006); // cut, no close handshake
    expect(answering.readyState).toBe(WebSocket.OPEN);
  });

  it('a flood toward a client that does not read stays queued at the sender, not in the platform', async () => {
    const FRAME = 64 * 1024;
    const TOTAL = 64 * 1024 * 1024;
    rig = await startRig({ keepaliveMs: 60_000, highWaterBytes: 256 * 1024 });
    const client = await rig.connect();
    const harness = await rig.harnessSide();
    expect((await nextMessage(client)).text).toBe('screen so far\r\n');
    client.removeAllListeners('message');
    let received = 0;
    client.on('message', (data: Buffer) => (received += data.length));
    client.pause();
    const frame = Buffer.alloc(FRAME, 0x61);
    for (let sent = 0; sent < TOTAL; sent += FRAME) harness.send(frame, { binary: true });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The platform stopped reading the harness: most of the flood is still queued there.
    expect(harness.bufferedAmount).toBeGreaterThan(TOTAL / 4);
    client.resume();
    await waitUntil(() => received === TOTAL, 60_000, 'every byte of the flood');
    expect(harness.bufferedAmount).toBe(0);
  }, 90_000);
});
