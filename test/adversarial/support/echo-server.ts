/**
 * The server a hostile agent controls (or a careless API that reflects what it gets): HTTPS on
 * several loopback addresses (distinct destinations for the vault), recording every request
 * and answering with everything it received, optionally gzip- or brotli-encoded whatever the
 * client asked for, and optionally in two writes that split each echoed value in the middle.
 */
import type http from 'node:http';
import zlib from 'node:zlib';
import { listenOnHosts } from '../../sandbox/support/tls';

export interface ReceivedRequest {
  host: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface EchoServer {
  port: number;
  received: ReceivedRequest[];
  /** Everything every request carried (URL, headers, body) as one string, to search for values. */
  everything(): string;
  close(): Promise<void>;
}

/**
 * Routes: `/echo` answers `{url, headers, body}` of the request, also putting its
 * Authorization into an `x-echo-authorization` answer header; query `encoding=gzip|br` encodes
 * the answer; `split=1` streams it in two writes 50 ms apart, cut in the middle of `cut`.
 * `/leak` answers `values` (the hostile server's own copy of real values), in the body and a header.
 */
export async function startEchoServer(
  tls: { cert: string; key: string },
  hosts: string[],
  values: string[] = [],
): Promise<EchoServer> {
  const received: ReceivedRequest[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = {
        host: req.socket.localAddress ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(entry);
      const query = new URL(req.url ?? '/', 'https://x').searchParams;
      const leak = (req.url ?? '').startsWith('/leak');
      const text = leak
        ? JSON.stringify({ values })
        : JSON.stringify({ url: entry.url, headers: entry.headers, body: entry.body });
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'x-echo-authorization': String(req.headers.authorization ?? ''),
        ...(leak ? { 'x-leak': values.join(' ') } : {}),
      };
      const encoding = query.get('encoding');
      if (encoding === 'gzip' || encoding === 'br') {
        headers['content-encoding'] = encoding;
        const encoded = encoding === 'gzip' ? zlib.gzipSync(text) : zlib.brotliCompressSync(text);
        res.writeHead(200, { ...headers, 'content-length': String(encoded.length) });
        return void res.end(encoded);
      }
      const cut = query.get('cut');
      if (query.get('split') && cut && text.includes(cut)) {
        // Two writes, the cut value split between them, so it crosses a chunk boundary.
        const at = text.indexOf(cut) + Math.floor(cut.length / 2);
        res.writeHead(200, headers);
        res.write(text.slice(0, at));
        return void setTimeout(() => res.end(text.slice(at)), 50);
      }
      res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    });
  };
  const { port, close } = await listenOnHosts(tls, listener, hosts);
  return {
    port,
    received,
    everything: () => received.map((r) => `${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n'),
    close,
  };
}
