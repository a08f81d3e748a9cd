import { EventSourceParserStream } from 'eventsource-parser/stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LapApiError, LapConnectionError } from './errors.js';
import type { Transport } from './transport.js';
import type { SessionEvent } from './types.js';
import { fromWire } from './wire-format.js';

export interface EventsOptions {
  signal?: AbortSignal;
  /** Resume after this event id (sent as `Last-Event-ID`). */
  lastEventId?: string;
  /** Called each time the stream is (re)connected, before any event of that connection. */
  onOpen?: () => void;
  /** Consecutive failed connection attempts tolerated before the iterator throws (default 5). */
  maxReconnectAttempts?: number;
}

interface StreamSource {
  transport: Transport;
  path: string;
  /** Whether to reconnect after the stream ended; false once the session is dead. */
  isAlive: (signal: AbortSignal) => Promise<boolean>;
}

const DEFAULT_RETRY_MS = 1000;

/**
 * Iterates a session's Server-Sent Events. A dropped connection is re-opened with
 * `Last-Event-ID` so no event is lost or repeated; the iterator ends when the session
 * is no longer alive, when the caller breaks out, or when `signal` aborts.
 */
export async function* streamSessionEvents(
  source: StreamSource,
  options: EventsOptions = {},
): AsyncGenerator<SessionEvent, void, undefined> {
  const controller = new AbortController();
  const abort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', abort, { once: true });
  const signal = controller.signal;
  let lastEventId = options.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  let failedAttempts = 0;
  const maxAttempts = options.maxReconnectAttempts ?? 5;
  try {
    while (!signal.aborted) {
      let response: Response;
      try {
        response = await source.transport.open(source.path, {
          signal,
          headers: {
            accept: 'text/event-stream',
            ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}),
          },
        });
      } catch (error) {
        if (signal.aborted) return;
        const retriable =
          error instanceof LapConnectionError || (error instanceof LapApiError && error.status >= 502);
        if (!retriable || ++failedAttempts > maxAttempts) throw error;
        await sleep(retryMs * failedAttempts, undefined, { signal }).catch(() => undefined);
        continue;
      }
      failedAttempts = 0;
      options.onOpen?.();
      const messages = response
        .body!.pipeThrough(new TextDecoderStream())
        .pipeThrough(new EventSourceParserStream({ onRetry: (ms) => (retryMs = ms) }));
      try {
        for await (const message of messages) {
          if (message.id !== undefined) lastEventId = message.id;
          yield toSessionEvent(message.event, message.data, message.id);
        }
      } catch {
        // The connection dropped mid-stream: fall through and reconnect.
      }
      if (signal.aborted || !(await source.isAlive(signal).catch(() => true))) return;
      await sleep(retryMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    options.signal?.removeEventListener('abort', abort);
    controller.abort();
  }
}

function toSessionEvent(eventName: string | undefined, data: string, id: string | undefined): SessionEvent {
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(data);
    payload =
      parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : { data: parsed };
  } catch {
    payload = { data };
  }
  const event = fromWire<Record<string, unknown>>(payload);
  return {
    ...event,
    type: eventName ?? event.type ?? 'message',
    ...(id !== undefined ? { id } : {}),
  } as SessionEvent;
}
