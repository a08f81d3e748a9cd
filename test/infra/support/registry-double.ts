/**
 * TEST DOUBLE of a container registry's Distribution API as Docker Hub and gcr.io serve it to an
 * anonymous client: `HEAD /v2/<repository>/manifests/<digest>` answers 401 with a bearer
 * challenge naming this server's token endpoint; with the token it answers 200 for the digests
 * it holds and 404 for others. Every registry host maps to it (`baseUrl`), and it records which
 * host asked for which repository.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const TOKEN = 'anonymous-pull-token';

export interface RegistryDouble {
  baseUrl: (host: string) => string;
  /** Digests it serves, by repository (e.g. library/node). */
  serves: Map<string, Set<string>>;
  /** `<host> <repository>@<digest>` of each authorized manifest request. */
  asked: string[];
  close: () => Promise<void>;
}

export async function startRegistryDouble(): Promise<RegistryDouble> {
  const serves = new Map<string, Set<string>>();
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://double');
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      if (
        url.searchParams.get('service') !== 'registry.double' ||
        !/^repository:[\w./-]+:pull$/.test(scope)
      ) {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
      return;
    }
    // Paths carry the registry host the client meant: /<host>/v2/<repository>/manifests/<digest>.
    const match = /^\/([^/]+)\/v2\/(.+)\/manifests\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (!match || req.method !== 'HEAD') {
      res.writeHead(404).end();
      return;
    }
    const [, host, repository, digest] = match;
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      const { port } = server.address() as AddressInfo;
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="registry.double",scope="repository:${repository}:pull"`,
        })
        .end();
      return;
    }
    asked.push(`${host} ${repository}@${digest}`);
    res.writeHead(serves.get(repository!)?.has(digest!) ? 200 : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: (host) => `http://127.0.0.1:${port}/${host}`,
    serves,
    asked,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
