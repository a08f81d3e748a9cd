/**
 * Reads and discards what is left of a request body before the answer goes out.
 *
 * Fastify answers a body it refuses (too large, unparsable) with `Connection: close`
 * while the client may still be uploading; Node then closes the socket with unread
 * bytes in it, the kernel resets the connection, and a client that sends its whole
 * body before reading (most do) sees ECONNRESET/EPIPE instead of the 413. Draining
 * first lets every such client read its answer. Bounded, so a sender cannot keep a
 * connection busy forever: past the bounds the answer goes out as before.
 */
import type { IncomingMessage } from 'node:http';

export const DRAIN_MAX_BYTES = 256 * 1024 * 1024;
export const DRAIN_MAX_MS = 30_000;

export function drainRequest(request: IncomingMessage): Promise<void> {
  if (request.complete || request.destroyed || request.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', done);
      request.off('error', done);
      request.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    request.on('data', onData);
    request.once('end', done);
    request.once('error', done);
    request.once('close', done);
    request.resume();
  });
}
