/** The platform's internal sandbox routes, as a test double serving one boot spec and recording phases. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PhaseReport, SandboxBootSpec } from '@lap/sandbox-protocol';

export async function startFakePlatform(spec: SandboxBootSpec, callbackToken: string) {
  const phases: PhaseReport[] = [];
  const server = http.createServer((req, res) => {
    const base = `/api/v1/internal/sandboxes/${spec.sandbox_id}`;
    if (req.headers.authorization !== `Bearer ${callbackToken}`) {
      res.writeHead(401).end();
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === `${base}/spec`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(spec));
      } else if (req.method === 'POST' && req.url === `${base}/phase`) {
        phases.push(JSON.parse(body) as PhaseReport);
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    phases,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
