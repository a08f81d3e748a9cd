import net from 'node:net';

/** A loopback port nothing listens on right now (for servers to start on, or to be refused). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `condition` every 25 ms until it holds; rejects after `timeoutMs`, naming `what` if given. */
export async function waitUntil(condition: () => boolean, timeoutMs = 5_000, what?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(what ? `timed out waiting for ${what}` : `condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
