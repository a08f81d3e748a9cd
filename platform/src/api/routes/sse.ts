/**
 * Server-Sent Events out of a route: headers that keep proxies from buffering, a
 * comment every 15 s so load balancers keep an idle stream open, an optional ceiling,
 * and one signal that fires when the stream is over for any reason (client gone,
 * ceiling, end) so the harness side can be closed with it.
 */
import type { FastifyReply } from 'fastify';

const KEEP_ALIVE_MS = 15_000;

export interface SseWriter {
  /** Fires when the client left, the ceiling fired, or end() was called. */
  signal: AbortSignal;
  /** Resolves once the stream is over. */
  closed: Promise<void>;
  send(payload: unknown): void;
  comment(text: string): void;
  raw(chunk: Buffer): void;
  timedOut(): boolean;
  ended(): boolean;
  end(): void;
}

export function openSse(reply: FastifyReply, clientGone: AbortSignal, maxMs: number | null): SseWriter {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const over = new AbortController();
  let timedOut = false;
  let finished = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const ceiling =
    maxMs === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          over.abort(new Error('stream timeout'));
        }, maxMs);
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  const write = (text: string | Buffer) => {
    if (!finished && !out.writableEnded && !out.destroyed) out.write(text);
  };
  const end = () => {
    if (finished) return;
    finished = true;
    if (ceiling) clearTimeout(ceiling);
    clearInterval(keepAlive);
    if (!out.writableEnded) out.end();
    over.abort(new Error('stream ended'));
    resolveClosed();
  };
  if (clientGone.aborted) end();
  clientGone.addEventListener('abort', end, { once: true });
  out.on('close', end);
  return {
    signal: over.signal,
    closed,
    send: (payload) => write(`data: ${JSON.stringify(payload)}\n\n`),
    comment: (text) => write(`: ${text}\n\n`),
    raw: (chunk) => write(chunk),
    timedOut: () => timedOut,
    ended: () => finished,
    end,
  };
}
