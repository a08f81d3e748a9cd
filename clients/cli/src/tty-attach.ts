import type { ConnectionOptions, Session } from '@litellm/agent-sdk';
import WebSocket from 'ws';
import { CliError } from './cli-error.js';

/** Ctrl-] (as in telnet): leave the terminal, keep the session running. */
const DETACH_KEY = 0x1d;

/**
 * Connects this terminal, in raw mode, to a TUI harness's PTY over the session's /tty
 * WebSocket. Keystrokes go as binary frames; window resizes as the JSON text frame
 * `{ "type": "resize", "cols", "rows" }` (sandbox protocol TtyResize).
 */
export async function attachTerminal(
  connection: ConnectionOptions,
  session: Session,
  options: { firstInput?: string } = {},
): Promise<'detached' | 'closed'> {
  if (!session.ttyUrl) throw new CliError(`session ${session.id} has no terminal (no tty_url)`);
  const url = new URL(session.ttyUrl, connection.baseUrl);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  if (session.ttyToken && !url.searchParams.has('token')) url.searchParams.set('token', session.ttyToken);
  // The platform key goes only to the platform itself, never to a sandbox's own address.
  const samePlatform = url.host === new URL(connection.baseUrl).host;
  const socket = new WebSocket(url, {
    headers: samePlatform ? { authorization: `Bearer ${connection.apiKey}` } : {},
  });
  // Listen before the handshake completes: the PTY's first screen can arrive with it.
  socket.on('message', (data: Buffer) => process.stdout.write(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
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
    socket.on('close', () => {
      stdin.off('data', onInput);
      process.stdout.off('resize', resize);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write(
        outcome === 'detached'
          ? `\r\ndetached; session ${session.id} keeps running (\`lap sessions attach ${session.id}\`)\r\n`
          : `\r\nterminal closed by the session\r\n`,
      );
      resolve(outcome);
    });
  });
}
