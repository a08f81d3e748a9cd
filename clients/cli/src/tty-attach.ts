import type { Session } from '@litellm/agent-sdk';
import WebSocket from 'ws';
import { CliError } from './cli-error.js';

/** Ctrl-] (as in telnet): leave the terminal, keep the session running. */
const DETACH_KEY = 0x1d;
/** Pings the platform this often; no answer by the next one: the connection is gone. */
const KEEPALIVE_MS = 30_000;

/**
 * Connects this terminal, in raw mode, to a TUI harness's PTY through the platform's
 * `/sessions/{id}/tty` WebSocket (`session.terminalConnection()`: the platform key as a
 * header, never in the URL). Keystrokes go as binary frames; window resizes as the JSON text
 * frame `{ "type": "resize", "cols", "rows" }` (sandbox protocol TtyResize).
 */
export async function attachTerminal(
  session: Session,
  options: { firstInput?: string } = {},
): Promise<'detached' | 'closed'> {
  const terminal = session.terminalConnection();
  if (!terminal) throw new CliError(`session ${session.id} has no terminal (no tty_url)`);
  const socket = new WebSocket(terminal.url, { headers: terminal.headers });
  // Listen before the handshake completes: the PTY's first screen can arrive with it.
  socket.on('message', (data: Buffer) => process.stdout.write(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    // The platform refused before upgrading: its answer says why (401, 404, 409, 410, 502, 504).
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        let reason = body.trim() || `HTTP ${response.statusCode}`;
        try {
          reason = (JSON.parse(body) as { error?: string }).error ?? reason;
        } catch {
          // not the platform's JSON (a proxy's page): keep the text
        }
        socket.terminate();
        reject(new CliError(`cannot open the session's terminal: ${response.statusCode} ${reason}`));
      });
    });
    socket.once('error', (error) =>
      reject(new CliError(`cannot open the session's terminal: ${error.message}`)),
    );
  });

  const stdin = process.stdin;
  const resize = () =>
    socket.send(
      JSON.stringify({ type: 'resize', cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 }),
    );
  process.stderr.write(
    `connected to session ${session.id} — Ctrl-] to detach (the session keeps running)\r\n`,
  );
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  resize();
  process.stdout.on('resize', resize);
  if (options.firstInput) socket.send(Buffer.from(`${options.firstInput}\r`));

  let answered = true;
  socket.on('pong', () => (answered = true));
  const keepalive = setInterval(() => {
    if (!answered) return socket.terminate();
    answered = false;
    socket.ping();
  }, KEEPALIVE_MS);

  return new Promise((resolve) => {
    let outcome: 'detached' | 'closed' = 'closed';
    const onInput = (chunk: Buffer) => {
      if (chunk.includes(DETACH_KEY)) {
        outcome = 'detached';
        socket.close();
        return;
      }
      socket.send(chunk);
    };
    stdin.on('data', onInput);
    socket.on('error', () => socket.terminate());
    socket.on('close', (code: number, reason: Buffer) => {
      clearInterval(keepalive);
      stdin.off('data', onInput);
      process.stdout.off('resize', resize);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      const why = reason.length > 0 ? `: ${reason.toString()}` : '';
      process.stderr.write(
        outcome === 'detached'
          ? `\r\ndetached; session ${session.id} keeps running (\`lap sessions attach ${session.id}\`)\r\n`
          : code === 1000
            ? `\r\nterminal closed by the session${why}\r\n`
            : `\r\nterminal connection lost (${code}${why}); \`lap sessions attach ${session.id}\` attaches again\r\n`,
      );
      resolve(outcome);
    });
  });
}
