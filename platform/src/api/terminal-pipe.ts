/**
 * One attached terminal: a client's WebSocket (from the internet, through the load balancer)
 * joined to the harness's `/tty` WebSocket (inside the VPC, with the harness token).
 *
 * - Frames pass as they are, both ways: binary stays binary, text stays text (the harness
 *   reads the text frame `{"type":"resize","cols","rows"}` as a resize, sandbox protocol).
 * - Backpressure: when more than `highWaterBytes` wait to be sent to one side, the other
 *   side is paused (its socket is not read, so TCP slows its sender down) until the queue
 *   is below half. Neither a flood of output nor a stuck client grows the platform's memory.
 * - Keepalive: both sides are pinged every `keepaliveMs`, which keeps the load balancer's
 *   idle timeout from cutting a quiet terminal; a side that neither answered the previous
 *   ping nor took any of what was queued toward it by the next one is cut (a half-open
 *   connection never closes by itself).
 * - Close: a client that leaves (detach, network gone) closes the harness side with 1000,
 *   the terminal keeps running in the sandbox; the harness closing cleanly (1000 terminal
 *   exited, 1001 harness stopping) reaches the client with its code and reason; a lost
 *   harness (no close frame, an error, no pong) closes the client with 1011.
 */
import { WebSocket, type RawData } from 'ws';
import type { HarnessTerminal } from '../harness/client';

export const TERMINAL_CLOSE = {
  /** The client left: the harness side is closed normally. */
  detached: 1000,
  /** The harness connection broke without a clean close. */
  harnessLost: 1011,
  /** The platform process is shutting down: attach again. */
  platformStopping: 1001,
} as const;

export interface TerminalPipeOptions {
  keepaliveMs: number;
  highWaterBytes: number;
}

export interface TerminalEnd {
  endedBy: 'client' | 'harness' | 'platform';
  /** The close code the client got (or sent, when it left first). */
  code: number;
  reason: string;
  bytesToClient: number;
  bytesToHarness: number;
}

export interface TerminalPipe {
  /** Resolves once both sides are closed. */
  done: Promise<TerminalEnd>;
  /** Ends both sides: the client gets `code` and `reason`. */
  close(code: number, reason: string): void;
}

/** A close reason fits in 123 bytes. */
function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

export function pipeTerminal(
  client: WebSocket,
  terminal: HarnessTerminal,
  options: TerminalPipeOptions,
): TerminalPipe {
  const harness = terminal.socket;
  const counts = { bytesToClient: 0, bytesToHarness: 0 };

  /** Sends each frame of `from` to `to`, pausing `from` while `to` has too much queued. */
  const pass = (from: WebSocket, to: WebSocket, counter: keyof typeof counts) => {
    let paused = false;
    const resumeBelow = options.highWaterBytes / 2;
    return (data: RawData, isBinary: boolean) => {
      if (to.readyState !== WebSocket.OPEN) return;
      counts[counter] += (data as Buffer).length;
      to.send(data, { binary: isBinary }, () => {
        if (paused && to.bufferedAmount <= resumeBelow) {
          paused = false;
          from.resume();
        }
      });
      if (!paused && to.bufferedAmount > options.highWaterBytes) {
        paused = true;
        from.pause();
      }
    };
  };

  // Errors show as 'close' too (ws emits it after every 'error'): handled there.
  client.on('error', () => undefined);
  harness.on('error', () => undefined);

  const toClient = pass(harness, client, 'bytesToClient');
  for (const frame of terminal.takeEarly()) toClient(frame.data, frame.isBinary);
  harness.on('message', toClient);
  client.on('message', pass(client, harness, 'bytesToHarness'));
  harness.resume();

  // A side is alive if it answered the last ping, or if what was queued toward it went down
  // (its TCP is taking data: a slow link may take longer than one interval to reach a pong).
  const answered = new Map<WebSocket, boolean>([
    [client, true],
    [harness, true],
  ]);
  const queued = new Map<WebSocket, number>([
    [client, 0],
    [harness, 0],
  ]);
  for (const side of [client, harness]) side.on('pong', () => answered.set(side, true));
  const keepalive = setInterval(() => {
    for (const side of [client, harness]) {
      if (side.readyState !== WebSocket.OPEN) continue;
      const drained = side.bufferedAmount < queued.get(side)!;
      queued.set(side, side.bufferedAmount);
      // A side paused for backpressure is not read, so its pong cannot be seen yet.
      if (!answered.get(side) && !drained && !side.isPaused) {
        side.terminate();
        continue;
      }
      answered.set(side, false);
      side.ping();
    }
  }, options.keepaliveMs);

  let end: Omit<TerminalEnd, keyof typeof counts> | null = null;
  let closedSides = 0;
  let finished!: (end: TerminalEnd) => void;
  const done = new Promise<TerminalEnd>((resolve) => (finished = resolve));
  const sideClosed = () => {
    closedSides += 1;
    if (closedSides < 2) return;
    clearInterval(keepalive);
    finished({ ...end!, ...counts });
  };

  onClosed(client, (code, reason) => {
    end ??= { endedBy: 'client', code, reason };
    if (harness.readyState === WebSocket.OPEN) harness.close(TERMINAL_CLOSE.detached, 'client detached');
    else if (harness.readyState === WebSocket.CONNECTING) harness.terminate();
    sideClosed();
  });
  onClosed(harness, (code, reason) => {
    const clean = code === 1000 || code === 1001;
    const toClient = clean
      ? { code, reason: closeReason(reason) }
      : { code: TERMINAL_CLOSE.harnessLost, reason: 'harness connection lost' };
    end ??= { endedBy: 'harness', ...toClient };
    if (client.readyState === WebSocket.OPEN) client.close(toClient.code, toClient.reason);
    sideClosed();
  });

  return {
    done,
    close(code, reason) {
      end ??= { endedBy: 'platform', code, reason };
      if (client.readyState === WebSocket.OPEN) client.close(code, closeReason(reason));
      if (harness.readyState === WebSocket.OPEN) harness.close(TERMINAL_CLOSE.detached, 'platform stopping');
    },
  };
}

/** Runs `then` once `socket` is closed: now when it already is (it will not emit 'close' again). */
function onClosed(socket: WebSocket, then: (code: number, reason: string) => void): void {
  if (socket.readyState === WebSocket.CLOSED) then(1006, '');
  else socket.once('close', (code, reason) => then(code, reason.toString()));
}
