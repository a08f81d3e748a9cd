/**
 * TUI harnesses (claude-code, codex): the program runs in a PTY; WebSocket clients on
 * /tty exchange raw terminal bytes with it. One PTY per sandbox, shared by every attached
 * client (a reconnecting browser sees the same session); it is restarted on the next
 * attach if it exited. Text frames holding `{"type":"resize","cols":n,"rows":n}` resize it.
 */
import { ttyResizeSchema } from '@lap/sandbox-protocol';
import type * as NodePty from 'node-pty';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { killGroupOnExit, signalGroup } from '../process-group';
import type { AgentHealth, EventSink, TuiHarnessAdapter } from './adapter';

/** Replayed to a client that attaches later, so it sees the current screen's recent bytes. */
const SCROLLBACK_BYTES = 64 * 1024;

export interface TtyAdapterOptions {
  /** Shell command line run with /bin/sh -c. */
  command: string;
  cwd: string;
  env: Record<string, string>;
  logger: Logger;
}

export class TtyAdapter implements TuiHarnessAdapter {
  readonly kind = 'tui';
  private terminal: NodePty.IPty | null = null;
  private scrollback = '';
  private readonly clients = new Set<WebSocket>();

  constructor(private readonly options: TtyAdapterOptions) {}

  async start(_emit: EventSink): Promise<void> {
    this.ensureTerminal();
  }

  // The program exiting is normal here (the user quit it): the next attach starts it again.
  health(): AgentHealth {
    return { state: 'ready' };
  }

  conversationId(): string | null {
    return null;
  }

  private ensureTerminal(): NodePty.IPty {
    if (this.terminal) return this.terminal;
    // Loaded here, not at the top: only the TUI images ship node-pty's native addon.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pty = require('node-pty') as typeof NodePty;
    const terminal = pty.spawn('/bin/sh', ['-c', `exec ${this.options.command}`], {
      name: 'xterm-256color',
      cols: 120,
      rows: 40,
      cwd: this.options.cwd,
      env: { TERM: 'xterm-256color', ...this.options.env },
    });
    this.options.logger.info({ event: 'tty_started', command: this.options.command, pid: terminal.pid });
    // The program leads a session (and process group) of its own: whatever it starts goes with it.
    const forget = killGroupOnExit(terminal.pid);
    terminal.onData((data) => {
      this.scrollback = (this.scrollback + data).slice(-SCROLLBACK_BYTES);
      for (const client of this.clients) if (client.readyState === WebSocket.OPEN) client.send(data);
    });
    terminal.onExit(({ exitCode, signal }) => {
      this.options.logger.info({ event: 'tty_exited', exitCode, signal });
      signalGroup(terminal.pid, 'SIGKILL');
      forget();
      if (this.terminal === terminal) this.terminal = null;
      for (const client of this.clients) client.close(1000, `terminal exited with code ${exitCode}`);
    });
    this.terminal = terminal;
    return terminal;
  }

  attach(socket: WebSocket): void {
    const terminal = this.ensureTerminal();
    this.clients.add(socket);
    if (this.scrollback) socket.send(this.scrollback);
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      if (!isBinary && text.startsWith('{')) {
        try {
          const resize = ttyResizeSchema.safeParse(JSON.parse(text));
          if (resize.success) {
            this.terminal?.resize(resize.data.cols, resize.data.rows);
            return;
          }
        } catch {
          // Not JSON: terminal input that happens to start with '{'.
        }
      }
      (this.terminal ?? terminal).write(text);
    });
    socket.on('close', () => this.clients.delete(socket));
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.close(1001, 'harness stopping');
    const terminal = this.terminal;
    this.terminal = null;
    if (!terminal) return;
    // A hang-up first, as when a terminal closes; whatever ignores it is killed after 2 s.
    const exited = new Promise<void>((resolve) => terminal.onExit(() => resolve()));
    signalGroup(terminal.pid, 'SIGHUP');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    signalGroup(terminal.pid, 'SIGKILL');
  }
}
