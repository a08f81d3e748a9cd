import { setTimeout as sleep } from 'node:timers/promises';
import { SessionFailedError, SessionTimeoutError } from './errors.js';
import {
  sessionEvents,
  watchSessionEvents,
  type EventsOptions,
  type WatchOptions,
} from './session-events.js';
import { MANAGED_AGENTS_PATH, Transport, type ConnectionOptions } from './transport.js';
import type {
  HarnessId,
  ListQuery,
  MessagePart,
  Page,
  Reply,
  SessionData,
  SessionEvent,
  SessionResponse,
  SessionStatus,
  WatchedEvent,
} from './types.js';

export interface WaitOptions {
  /** Give up after this long (default 10 minutes, the platform's own creating timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the session after every poll (phase updates for progress displays). */
  onProgress?: (session: Session) => void;
  /**
   * Also wait for the first reply (the platform's answer to `initialPrompt`) to land in
   * `response`, so a `send()` right after does not collide with that first turn.
   */
  untilFirstReply?: boolean;
}

export const DEFAULT_READY_TIMEOUT_MS = 600_000;
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 2_000;

/** One live sandbox booted from an agent. */
export class Session implements SessionData {
  id!: string;
  agentId!: string;
  title!: string | null;
  status!: SessionStatus;
  phase!: string | null;
  phaseDetail!: string | null;
  sandboxUrl?: string;
  ttyUrl!: string | null;
  ttyToken!: string | null;
  response?: SessionResponse;
  lastSeenAt!: string | null;
  idleTimeoutMs!: number;
  failureReason!: string | null;
  createdAt!: string;
  taskArn!: string | null;
  harnessSessionId?: string | null;
  supportsTui?: boolean;
  agentName?: string | null;
  harnessId?: HarnessId;

  /** @internal Use `agent.createSession()`, `agent.getSession()` or `Session.get()`. */
  constructor(
    private readonly transport: Transport,
    data: SessionData,
  ) {
    this.assign(data);
  }

  static async get(connection: ConnectionOptions, sessionId: string): Promise<Session> {
    const transport = new Transport(connection);
    return new Session(transport, await transport.request<SessionData>('GET', sessionPath(sessionId)));
  }

  /** All sessions, newest first (what `lap ps` shows). */
  static async list(
    connection: ConnectionOptions,
    query: ListQuery & { agentId?: string } = {},
  ): Promise<Page<Session>> {
    const transport = new Transport(connection);
    const page = await transport.request<Page<SessionData>>('GET', `${MANAGED_AGENTS_PATH}/sessions`, {
      query: { limit: query.limit, offset: query.offset, agent_id: query.agentId },
    });
    return { ...page, data: page.data.map((data) => new Session(transport, data)) };
  }

  /** The latest reply (for example to `initialPrompt`), or null. */
  get reply(): Reply | null {
    return this.response ? { ...this.response, ...toReply(this.response.parts) } : null;
  }

  /** Re-reads the session from the platform and updates this object. */
  async refresh(options: { signal?: AbortSignal } = {}): Promise<this> {
    this.assign(await this.transport.request<SessionData>('GET', sessionPath(this.id), options));
    return this;
  }

  /**
   * One synchronous agent turn: resolves with the agent's reply when the turn is done.
   * Takes plain text or message parts. On a session still starting, the platform waits
   * for it to be ready; behind a running turn, it waits its turn.
   */
  async send(input: string | MessagePart[], options: { signal?: AbortSignal } = {}): Promise<Reply> {
    const body = typeof input === 'string' ? { text: input } : { parts: input };
    const result = await this.transport.request<Record<string, unknown> & { parts?: MessagePart[] }>(
      'POST',
      `${sessionPath(this.id)}/message`,
      { body, signal: options.signal },
    );
    return { ...result, ...toReply(result?.parts) };
  }

  /**
   * The session's events until it is idle: `ready`, then `harness_event` for each event of
   * the harness (`event`: turn_started, token, tool_call, tool_result, turn_done, error),
   * then `done`, where the iterator ends. Also ends when the platform closes the stream.
   */
  events(options: EventsOptions = {}): AsyncGenerator<SessionEvent, void, undefined> {
    return sessionEvents(this.transport, `${sessionPath(this.id)}/events`, options);
  }

  /**
   * Every harness event of the session, across turns, with its id, until the session ends
   * (the continuous stream, GET /events?follow=1). A dropped connection is resumed with
   * `Last-Event-ID`, so no event is lost or repeated.
   */
  watch(options: WatchOptions = {}): AsyncGenerator<WatchedEvent, void, undefined> {
    return watchSessionEvents(
      {
        transport: this.transport,
        path: `${sessionPath(this.id)}/events`,
        isAlive: async (signal) => {
          await this.refresh({ signal });
          return this.status === 'ready' || this.status === 'creating';
        },
      },
      options,
    );
  }

  /** Stops the sandbox; the session becomes `dead`. */
  async stop(): Promise<this> {
    const data = await this.transport.request<SessionData | undefined>(
      'POST',
      `${sessionPath(this.id)}/stop`,
    );
    if (data && typeof data === 'object' && 'status' in data) this.assign(data);
    else await this.refresh();
    return this;
  }

  /** Deletes the session and its sandbox (idempotent). */
  async delete(): Promise<void> {
    await this.transport.request('DELETE', sessionPath(this.id));
  }

  /** Polls with backoff until the session is ready; throws on `failed`/`dead`, timeout or abort. */
  async waitUntilReady(options: WaitOptions = {}): Promise<this> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let delay = FIRST_POLL_MS;
    for (;;) {
      options.onProgress?.(this);
      if (this.status === 'ready' && (!options.untilFirstReply || this.response)) return this;
      if (this.status === 'failed' || this.status === 'dead') {
        throw new SessionFailedError(this.id, this.status, this.failureReason);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const waitingFor = this.status === 'ready' ? 'the reply to the initial prompt' : this.phase;
        throw new SessionTimeoutError(this.id, timeoutMs, waitingFor);
      }
      await sleep(Math.min(delay, remaining), undefined, { signal: options.signal }).catch(() => {
        throw options.signal?.reason;
      });
      delay = Math.min(delay * 1.5, MAX_POLL_MS);
      await this.refresh({ signal: options.signal });
    }
  }

  /**
   * How to open the session's terminal (TUI harnesses: claude-code, codex) with any WebSocket
   * client: the `ttyUrl` as a `ws:`/`wss:` URL and the headers for the handshake (the platform
   * key when the terminal is on the platform's own host, else the session's TTY-only token).
   * Raw terminal bytes both ways; a text frame `{"type":"resize","cols","rows"}` resizes it.
   * Null when the session has no terminal (not a TUI session, or ended). Clients that cannot
   * set headers (browsers) append `?token=<ttyToken>` to the URL instead.
   */
  terminalConnection(): { url: string; headers: Record<string, string> } | null {
    if (!this.ttyUrl) return null;
    const url = new URL(this.ttyUrl, this.transport.baseUrl);
    url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
    const platformKey = this.transport.authorizationFor(url);
    const headers =
      platformKey.authorization || !this.ttyToken
        ? platformKey
        : { authorization: `Bearer ${this.ttyToken}` };
    return { url: url.href, headers };
  }

  /** The session's fields without the client (for logging or JSON output). */
  toJSON(): SessionData {
    const { transport: _transport, ...data } = this;
    return data;
  }

  private assign(data: SessionData): void {
    Object.assign(this, data);
    // Absent rather than null, as in the upstream SDK's session (`sandboxUrl?`, `response?`).
    if (this.sandboxUrl === null) delete this.sandboxUrl;
    if (this.response === null) delete this.response;
  }
}

function sessionPath(sessionId: string): string {
  return `${MANAGED_AGENTS_PATH}/sessions/${encodeURIComponent(sessionId)}`;
}

export function toReply(parts: MessagePart[] | undefined): { parts: MessagePart[]; text: string } {
  const list = parts ?? [];
  const text = list
    .filter(
      (part): part is { type: 'text'; text: string } => part.type === 'text' && typeof part.text === 'string',
    )
    .map((part) => part.text)
    .join('');
  return { parts: list, text };
}
