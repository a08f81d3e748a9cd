/**
 * The `opencode` harness: drives a real `opencode serve` on a private loopback port.
 * opencode is configured (OPENCODE_CONFIG_CONTENT, nothing written into the repo) with the
 * LiteLLM gateway as an OpenAI-compatible provider; its key is the vault's stub, so the
 * real key is added by the vault on the way out. A turn is POST /session/{id}/message,
 * which answers when the agent is done; its text streams from opencode's GET /event.
 *
 * opencode runs in a process group that dies with the harness (process-group.ts). When it
 * dies on its own it is restarted (same session: its data stays in HOME) up to
 * `maxRestarts` times within `restartWindowMs`, after a growing delay; past that the
 * adapter reports itself dead and /health answers 503 with the reason.
 *
 * Nothing is sent to opencode before it prints that it listens: a request accepted while it
 * boots may never be answered, and the half-closed socket left when such a request is given
 * up keeps opencode's event loop spinning for good (a quarter to a whole core, idle).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { MessagePart } from '@lap/sandbox-protocol';
import { createParser } from 'eventsource-parser';
import type { Logger } from 'pino';
import { describeExit, spawnProcessGroup, type ProcessGroup } from '../process-group';
import {
  AgentBusyError,
  AgentUnavailableError,
  type AgentHealth,
  type ApiHarnessAdapter,
  type EventSink,
  type NativeServer,
  type TurnContext,
} from './adapter';
import {
  errorMessage,
  OpencodeEventTranslator,
  toProtocolParts,
  type OpencodeEvent,
  type OpencodePart,
} from './opencode-events';

export interface OpencodeAdapterOptions {
  /** Path of the opencode binary. */
  binary: string;
  cwd: string;
  env: Record<string, string>;
  model: string;
  prompt: string;
  litellmApiBase: string;
  logger: Logger;
  /** From spawn to a session, per start. */
  startTimeoutMs?: number;
  /** Restarts allowed within `restartWindowMs` before the agent is declared dead. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Delay before the first restart; each further restart waits four times longer. */
  restartDelayMs?: number;
  /**
   * An idle opencode still spends about 1% of a core (its runtime wakes every second), most
   * of an idle sandbox's CPU. After this long without a turn and without a request through
   * /opencode/*, opencode itself is stopped (SIGSTOP; what it started keeps running) until
   * the next request. 0: never.
   */
  parkAfterMs?: number;
}

const PROVIDER = 'litellm';

const LISTENING = /opencode server listening on (http:\/\/\S+)/;
/** Once opencode listens, its API answers at once; longer means it is wedged. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The opencode binary: OPENCODE_BIN, else node_modules/.bin/opencode from here upwards, else PATH. */
export function findOpencodeBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPENCODE_BIN) return env.OPENCODE_BIN;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', '.bin', 'opencode');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return 'opencode';
  }
}

/** LiteLLM serves the OpenAI API under /v1; accept the base with or without it. */
export function openAiBaseUrl(apiBase: string): string {
  const trimmed = apiBase.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`;
}

export function opencodeConfig(model: string, apiBase: string): Record<string, unknown> {
  return {
    $schema: 'https://opencode.ai/config.json',
    provider: {
      [PROVIDER]: {
        npm: '@ai-sdk/openai-compatible',
        name: 'LiteLLM',
        options: { baseURL: openAiBaseUrl(apiBase), apiKey: '{env:LITELLM_API_KEY}' },
        models: { [model]: { name: model } },
      },
    },
    model: `${PROVIDER}/${model}`,
    small_model: `${PROVIDER}/${model}`,
    autoupdate: false,
    share: 'disabled',
  };
}

/**
 * At each start opencode installs `@opencode-ai/plugin` from the npm registry into its global
 * config folder, in the background, for plugins kept there (we keep none): 26 packages and
 * about 6 CPU-seconds per cold start, through the vault. Its install check (opencode 1.18)
 * passes when `node_modules` exists and `package-lock.json` lists every dependency, so a fresh
 * HOME gets both; a config folder the agent's own files put something into is left alone
 * (its plugins may need the package: opencode then installs it, as the egress policy allows).
 */
export function skipPluginInstall(env: Record<string, string>): void {
  const configHome = env.XDG_CONFIG_HOME ?? (env.HOME ? path.join(env.HOME, '.config') : null);
  if (!configHome) return;
  const dir = path.join(configHome, 'opencode');
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) return;
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({
      lockfileVersion: 3,
      packages: { '': { dependencies: { '@opencode-ai/plugin': '*' } } },
    }),
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** opencode's HTTP errors carry `{ name, data }`: the name says what, without echoing input. */
async function httpError(method: string, route: string, response: Response): Promise<Error> {
  const body = (await response.json().catch(() => null)) as { name?: unknown } | null;
  const name = typeof body?.name === 'string' ? ` (${body.name.slice(0, 80)})` : '';
  return new Error(`opencode answered ${method} ${route} with HTTP ${response.status}${name}`);
}

/** One running `opencode serve`. */
interface Server {
  group: ProcessGroup;
  url: string;
  events: AbortController;
}

export class OpencodeAdapter implements ApiHarnessAdapter {
  readonly kind = 'api';
  private readonly authorization: string;
  private readonly password = randomBytes(24).toString('hex');
  /** The latest `opencode serve` started (also while it boots). */
  private group: ProcessGroup | null = null;
  /** The running one, once it listens and has our session. */
  private server: Server | null = null;
  private sessionId: string | null = null;
  private state: AgentHealth = { state: 'starting' };
  private stopping = false;
  private readonly restarts: number[] = [];
  private restartTimer: NodeJS.Timeout | null = null;
  private translator: OpencodeEventTranslator | null = null;
  private emit: EventSink = () => undefined;
  /** Requests through /opencode/* in flight (an event stream held open included). */
  private holds = 0;
  private parkTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: OpencodeAdapterOptions) {
    this.authorization = `Basic ${Buffer.from(`opencode:${this.password}`).toString('base64')}`;
  }

  async start(emit: EventSink): Promise<void> {
    this.emit = emit;
    this.translator = new OpencodeEventTranslator((event) => {
      emit(event);
      // A turn sent through /opencode/* may end after its request did (prompt_async).
      if (event.type === 'turn_done' || event.type === 'error') this.parkWhenIdle();
    });
    await this.launch();
    this.state = { state: 'ready' };
    this.parkWhenIdle();
  }

  health(): AgentHealth {
    return this.state;
  }

  conversationId(): string | null {
    return this.sessionId;
  }

  busy(): boolean {
    return this.translator?.busy ?? false;
  }

  abort(): void {
    const server = this.server;
    if (server && this.sessionId && this.busy()) void this.wake(server).then(() => this.abortSession());
  }

  async nativeServer(): Promise<NativeServer | null> {
    const server = this.server;
    if (this.state.state !== 'ready' || !server) return null;
    this.holds++;
    await this.wake(server);
    let released = false;
    return {
      url: server.url,
      authorization: this.authorization,
      release: () => {
        if (released) return;
        released = true;
        this.holds--;
        this.parkWhenIdle();
      },
    };
  }

  /** Stops opencode after `parkAfterMs` unless a turn or a request comes first. */
  private parkWhenIdle(): void {
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    const server = this.server;
    const parkAfterMs = this.options.parkAfterMs ?? 10_000;
    if (!server || this.state.state !== 'ready' || this.stopping || parkAfterMs <= 0) return;
    this.parkTimer = setTimeout(() => {
      this.parkTimer = null;
      if (this.server !== server || this.holds > 0 || this.busy() || this.stopping) {
        this.options.logger.debug({ event: 'opencode_not_parked', holds: this.holds, busy: this.busy() });
        return;
      }
      void server.group.pause().then(() => this.options.logger.debug({ event: 'opencode_parked' }));
    }, parkAfterMs);
  }

  private async wake(server: Server): Promise<void> {
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    await server.group.resume();
  }

  /** Starts `opencode serve`, waits until it listens, then opens (or reopens) the session. */
  private async launch(): Promise<void> {
    if (path.isAbsolute(this.options.binary) && !fs.existsSync(this.options.binary))
      throw new Error(`the opencode binary ${this.options.binary} does not exist`);
    skipPluginInstall(this.options.env);
    const port = await freePort();
    const group = spawnProcessGroup(
      this.options.binary,
      ['serve', '--port', String(port), '--hostname', '127.0.0.1'],
      {
        cwd: this.options.cwd,
        label: 'lap-agent-guard',
        env: {
          ...this.options.env,
          OPENCODE_CONFIG_CONTENT: JSON.stringify(
            opencodeConfig(this.options.model, this.options.litellmApiBase),
          ),
          // Only the harness may drive it, even on loopback.
          OPENCODE_SERVER_PASSWORD: this.password,
          OPENCODE_DISABLE_AUTOUPDATE: 'true',
          OPENCODE_DISABLE_MODELS_FETCH: 'true',
          OPENCODE_DISABLE_SHARE: 'true',
        },
      },
    );
    this.group = group;
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    try {
      const url = await this.waitUntilListening(group, deadline);
      const server: Server = { group, url, events: new AbortController() };
      this.server = server;
      await this.openSession(server, deadline);
      void group.exited.then((exit) => this.onExit(server, describeExit(exit)));
      void this.followEvents(server);
      this.options.logger.info({ event: 'opencode_ready', port, session: this.sessionId, pid: group.pgid });
    } catch (error) {
      this.server = null;
      await group.stop(2000);
      throw error;
    }
  }

  /** Reads opencode's output until it says it listens. Its log lines go to our debug log only. */
  private waitUntilListening(group: ProcessGroup, deadline: number): Promise<string> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(
        () => settle(() => reject(new Error('opencode serve did not listen within the start timeout'))),
        Math.max(deadline - Date.now(), 0),
      );
      for (const stream of [group.stdout, group.stderr]) {
        readline.createInterface({ input: stream }).on('line', (line) => {
          this.options.logger.debug({ event: 'opencode_log', line: line.slice(0, 500) });
          const match = LISTENING.exec(line);
          if (match) settle(() => resolve(match[1]!.replace(/\/+$/, '')));
        });
      }
      void group.exited.then((exit) =>
        settle(() => reject(new Error(`opencode serve ${describeExit(exit)} before it listened`))),
      );
    });
  }

  private async openSession(server: Server, deadline: number): Promise<void> {
    const signal = AbortSignal.timeout(Math.max(Math.min(deadline - Date.now(), REQUEST_TIMEOUT_MS), 1));
    if (this.sessionId) {
      // A restart: opencode keeps its sessions in HOME, so the conversation carries on.
      const existing = await this.request(server, 'GET', `/session/${this.sessionId}`, undefined, signal);
      if (existing.ok) return;
      this.options.logger.warn({ event: 'opencode_session_lost', session: this.sessionId });
    }
    const response = await this.request(server, 'POST', '/session', {}, signal);
    if (!response.ok) throw await httpError('POST', '/session', response);
    this.sessionId = ((await response.json()) as { id: string }).id;
  }

  private request(
    server: Server,
    method: string,
    route: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    return fetch(`${server.url}${route}`, {
      method,
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  }

  /** opencode's own event stream, for our session: reconnected while opencode runs. */
  private async followEvents(server: Server): Promise<void> {
    for (let attempt = 0; this.server === server && !server.events.signal.aborted; attempt++) {
      const parser = createParser({
        onEvent: ({ data }) => {
          let event: OpencodeEvent;
          try {
            event = JSON.parse(data) as OpencodeEvent;
          } catch {
            return;
          }
          if (event.properties?.sessionID === this.sessionId) this.translator?.handle(event);
        },
      });
      try {
        const response = await this.request(server, 'GET', '/event', undefined, server.events.signal);
        if (!response.ok || !response.body) throw await httpError('GET', '/event', response);
        attempt = 0;
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
          parser.feed(decoder.decode(chunk, { stream: true }));
      } catch (error) {
        if (server.events.signal.aborted) return;
        this.options.logger.warn({ event: 'opencode_events_lost', message: (error as Error).message });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 5000)));
    }
  }

  private onExit(server: Server, how: string): void {
    if (this.server !== server) return;
    this.server = null;
    server.events.abort();
    if (this.stopping) return;
    const reason = `the agent process (opencode) ${how}`;
    this.options.logger.warn({ event: 'opencode_exited', reason });
    this.translator?.reset(`${reason} during the turn`);
    this.restartOrDie(reason);
  }

  private restartOrDie(reason: string): void {
    const maxRestarts = this.options.maxRestarts ?? 3;
    const windowMs = this.options.restartWindowMs ?? 10 * 60_000;
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! > windowMs) this.restarts.shift();
    if (this.restarts.length >= maxRestarts) {
      this.state = {
        state: 'dead',
        reason:
          `${reason}; it was restarted ${this.restarts.length} time(s) in the last ` +
          `${Math.round(windowMs / 60_000)} min and is not restarted again`,
      };
      this.options.logger.error({ event: 'agent_dead', reason: this.state.reason });
      this.emit({ type: 'error', message: this.state.reason! });
      return;
    }
    this.restarts.push(now);
    const delay = (this.options.restartDelayMs ?? 500) * 4 ** (this.restarts.length - 1);
    this.state = { state: 'starting', reason: `${reason}; restarting it` };
    this.options.logger.warn({
      event: 'agent_restarting',
      reason,
      in_ms: delay,
      restart: this.restarts.length,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.launch().then(
        () => {
          if (this.stopping) return;
          this.state = { state: 'ready' };
          this.options.logger.info({ event: 'agent_restarted', session: this.sessionId });
          this.parkWhenIdle();
        },
        (error: Error) => {
          if (!this.stopping)
            this.restartOrDie(`the agent process (opencode) did not restart: ${error.message}`);
        },
      );
    }, delay);
  }

  private async abortSession(): Promise<void> {
    if (!this.server || !this.sessionId) return;
    await this.request(this.server, 'POST', `/session/${this.sessionId}/abort`, {}).catch(() => undefined);
  }

  async turn(parts: MessagePart[], context: TurnContext): Promise<MessagePart[]> {
    const server = this.server;
    if (this.state.state !== 'ready' || !server || !this.sessionId) {
      throw new AgentUnavailableError(this.state.reason ?? 'the agent process (opencode) is starting');
    }
    if (this.busy()) {
      throw new AgentBusyError('the agent is running a turn sent to it directly; POST /abort to stop it');
    }
    const translator = this.translator!;
    await this.wake(server);
    const onAbort = () => void this.abortSession();
    context.signal.addEventListener('abort', onAbort, { once: true });
    translator.beginOwnTurn(context.turnId);
    let answer: OpencodePart[] = [];
    try {
      let response: Response;
      try {
        response = await this.request(server, 'POST', `/session/${this.sessionId}/message`, {
          parts: parts.map((part) => (part.type === 'text' ? { type: 'text', text: part.text } : part)),
          model: { providerID: PROVIDER, modelID: this.options.model },
          ...(this.options.prompt ? { system: this.options.prompt } : {}),
        });
      } catch (error) {
        throw await this.unreachable(server, error as Error);
      }
      if (!response.ok) throw await httpError('POST', `/session/{id}/message`, response);
      const result = (await response.json()) as {
        info?: { error?: { data?: { message?: string }; name?: string } };
        parts?: OpencodePart[];
      };
      if (result.info?.error) throw new Error(errorMessage(result.info.error));
      answer = result.parts ?? [];
      return toProtocolParts(answer);
    } finally {
      translator.endOwnTurn(answer);
      context.signal.removeEventListener('abort', onAbort);
      this.parkWhenIdle();
    }
  }

  /** The turn's request failed: if opencode died under it, say so (its exit lands just after). */
  private async unreachable(server: Server, error: Error): Promise<Error> {
    await Promise.race([server.group.exited, new Promise((resolve) => setTimeout(resolve, 1000))]);
    if (!server.group.running)
      return new AgentUnavailableError(
        `the turn was lost: ${this.state.reason ?? 'the agent process (opencode) exited'}`,
      );
    const code = (error.cause as { code?: string } | undefined)?.code;
    return new Error(`cannot reach opencode: ${code ?? error.message}`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.server?.events.abort();
    await this.group?.stop(5000);
  }
}
