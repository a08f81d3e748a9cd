/**
 * `ALL /opencode/*`: a request forwarded verbatim to the sandbox's own opencode server
 * (method, the path after `/opencode`, query, body) and its answer streamed back as it comes
 * (server-sent events included), so opencode's own clients (`@opencode-ai/sdk`, the platform
 * CLI's chat) work through the platform. The caller's credentials stay here: opencode gets
 * the harness's own password instead. WebSocket upgrades are not forwarded.
 */
import http from 'node:http';
import { HARNESS_OPENCODE_PREFIX } from '@lap/sandbox-protocol';
import type { NativeServer } from './adapters/adapter';

/** Per-hop headers (RFC 9110 7.6.1) and the caller's credentials: never forwarded. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

function forwardedHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name) && !listed.has(name)) out[name] = value;
  }
  return out;
}

/** Forwards `req` (whose URL starts with /opencode) to `target`; answers 502 if it cannot. */
export function forwardToOpencode(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: NativeServer,
): void {
  const url = new URL(target.url);
  const rest = (req.url ?? '/').slice(HARNESS_OPENCODE_PREFIX.length);
  const upstream = http.request({
    host: url.hostname,
    port: url.port,
    method: req.method,
    path: rest.startsWith('/') ? rest : `/${rest}`,
    headers: { ...forwardedHeaders(req.headers), authorization: target.authorization },
  });
  upstream.on('response', (answer) => {
    const headers = forwardedHeaders(answer.headers);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    // Streams start now, not with the first event.
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (error) => {
    if (res.headersSent) return void res.destroy();
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `opencode did not answer: ${code}` }));
  });
  // The caller went away: so does the request to opencode (an event stream included).
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
