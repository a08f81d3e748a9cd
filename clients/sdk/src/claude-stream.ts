import { LapApiError } from './errors.js';
import { HarnessMessageRenderer } from './harness-messages.js';
import type { SDKMessage } from './sdk-messages.js';
import { serverSentEvents, streamController } from './sse.js';
import { MANAGED_AGENTS_PATH, Transport, type ConnectionOptions } from './transport.js';

export interface CreateClaudeStreamOptions extends ConnectionOptions {
  /** The session to follow. */
  sessionId: string;
  /** Aborting closes the stream (status `aborted`). */
  signal?: AbortSignal;
  /** Called on a transport failure, after the status became `error`. */
  onError?: (err: Error) => void;
}

/** `connecting` until the platform opened the stream; `idle` once the session's work is done. */
export type ClaudeStreamStatus = 'connecting' | 'streaming' | 'idle' | 'aborted' | 'error';

/** A snapshot: every message so far, in order (partial `stream_event` frames included), and the status. */
export interface ClaudeStreamState {
  status: ClaudeStreamStatus;
  error?: string;
  messages: SDKMessage[];
}

export type ClaudeStreamSubscriber = (state: ClaudeStreamState) => void;

export interface ClaudeStreamHandle {
  /** The current snapshot. */
  state(): ClaudeStreamState;
  /** Calls `cb` with the current snapshot now and with every new one; returns the unsubscribe function. */
  subscribe(cb: ClaudeStreamSubscriber): () => void;
  /** Closes the stream. */
  abort(): void;
  /** Resolves when the stream has ended (idle, error or abort); never rejects. */
  done(): Promise<void>;
}

const OPENED = new Set(['stream.opened', 'server.connected', 'session.connected']);

/**
 * Follows a session's live output over GET /sessions/{id}/stream (which waits for the
 * session to be ready and ends when it goes idle) as Claude Agent SDK messages:
 * `claude_sdk_message` envelopes are unwrapped, and this platform's harness events are
 * rendered as the same kind of messages (see harness-messages.ts). Each change produces a
 * new state object for the subscribers.
 */
export function createClaudeStream(opts: CreateClaudeStreamOptions): ClaudeStreamHandle {
  let state: ClaudeStreamState = { status: 'connecting', messages: [] };
  const subscribers = new Set<ClaudeStreamSubscriber>();
  const { controller, release } = streamController(opts.signal);

  const publish = (next: ClaudeStreamState) => {
    state = next;
    for (const subscriber of subscribers) notify(subscriber, state);
  };
  const fail = (error: Error) => {
    publish({ ...state, status: 'error', error: error.message });
    opts.onError?.(error);
  };
  const append = (messages: SDKMessage[]) => {
    if (messages.length === 0) return;
    const status = state.status === 'connecting' ? 'streaming' : state.status;
    publish({ ...state, status, messages: [...state.messages, ...messages] });
  };
  const renderer = new HarnessMessageRenderer(opts.sessionId);

  const apply = (raw: Record<string, unknown>) => {
    const type = raw.type;
    const properties = isRecord(raw.properties) ? raw.properties : raw;
    if (type === 'claude_sdk_message') {
      if (isRecord(properties.message)) append([properties.message as SDKMessage]);
    } else if (typeof type === 'string' && OPENED.has(type)) {
      if (state.status === 'connecting') publish({ ...state, status: 'streaming' });
    } else if (type === 'session.idle') {
      publish({ ...state, status: 'idle' });
    } else if (type === 'session.aborted') {
      publish({ ...state, status: 'aborted' });
    } else if (type === 'session.error' || type === 'error') {
      const message = typeof properties.message === 'string' ? properties.message : 'session error';
      publish({ ...state, status: 'error', error: message });
    } else {
      append(renderer.render(raw));
    }
  };

  const run = async () => {
    let response: Response;
    try {
      const transport = new Transport(opts);
      response = await transport.open(
        `${MANAGED_AGENTS_PATH}/sessions/${encodeURIComponent(opts.sessionId)}/stream`,
        { signal: controller.signal, headers: { accept: 'text/event-stream' } },
      );
    } catch (error) {
      if (controller.signal.aborted) return publish({ ...state, status: 'aborted' });
      const failure =
        error instanceof LapApiError ? new Error(`stream ${error.status} ${error.message}`) : asError(error);
      return fail(failure);
    }
    let opened = false;
    try {
      for await (const message of serverSentEvents(response)) {
        let raw: unknown;
        try {
          raw = JSON.parse(message.data);
        } catch {
          continue;
        }
        if (!isRecord(raw)) continue;
        opened ||= typeof raw.type === 'string' && OPENED.has(raw.type);
        apply(raw);
        if (state.status === 'idle' || state.status === 'aborted') break;
      }
    } catch (error) {
      if (controller.signal.aborted) return publish({ ...state, status: 'aborted' });
      return fail(asError(error));
    }
    if (controller.signal.aborted) return publish({ ...state, status: 'aborted' });
    // The platform ends the stream when the session goes idle.
    if (state.status === 'connecting' || state.status === 'streaming') {
      if (opened || state.messages.length > 0) publish({ ...state, status: 'idle' });
      else fail(new Error('the stream closed before it opened'));
    }
  };

  const finished = run()
    .catch((error: unknown) => fail(asError(error)))
    .finally(release);

  return {
    state: () => state,
    subscribe(cb) {
      subscribers.add(cb);
      notify(cb, state);
      return () => void subscribers.delete(cb);
    },
    abort: () => controller.abort(),
    done: () => finished,
  };
}

function notify(subscriber: ClaudeStreamSubscriber, state: ClaudeStreamState): void {
  try {
    subscriber(state);
  } catch (error) {
    // One broken subscriber must not starve the others.
    console.warn(`[createClaudeStream] a subscriber threw: ${asError(error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
