import { setTimeout as sleep } from 'node:timers/promises';
import { LapApiError, LapConnectionError } from './errors.js';
import { eventPayload, serverSentEvents, streamController } from './sse.js';
import type { Transport } from './transport.js';
import type { SessionEvent, WatchedEvent } from './types.js';

export interface EventsOptions {
  signal?: AbortSignal;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Resume after this event id (sent as `Last-Event-ID`). */
  lastEventId?: string;
  /** Called each time the stream is (re)connected, before any event of that connection. */
  onOpen?: () => void;
  /** Consecutive failed connection attempts tolerated before the iterator throws (default 5). */
  maxReconnectAttempts?: number;
}

/** The query that asks GET /events for the continuous stream instead of one that ends at idle. */
export const FOLLOW_QUERY = { follow: '1' } as const;

const DEFAULT_RETRY_MS = 1000;

/**
 * GET /sessions/{id}/events in the upstream vocabulary: `ready`, `harness_event`..., then
 * `done` once the session is idle, after which the iterator ends (as it does when the
 * platform closes the stream, the caller breaks out, or `signal` aborts).
 */
export async function* sessionEvents(
  transport: Transport,
  path: string,
  options: EventsOptions = {},
): AsyncGenerator<SessionEvent, void, undefined> {
  const { controller, release } = streamController(options.signal);
  try {
    const response = await transport.open(path, {
      signal: controller.signal,
      headers: { accept: 'text/event-stream' },
    });
    for await (const message of serverSentEvents(response)) {
      const event = eventPayload(message);
      if (!event) continue;
      yield event as SessionEvent;
      if (event.type === 'done') return;
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    throw error;
  } finally {
    release();
  }
}

interface WatchSource {
  transport: Transport;
  path: string;
  /** Whether to reconnect after the stream ended; false once the session is dead. */
  isAlive: (signal: AbortSignal) => Promise<boolean>;
}

/**
 * The continuous stream (GET /events?follow=1): every harness event with its id, across
 * turns, until the session ends. A dropped connection is re-opened with `Last-Event-ID`
 * so no event is lost or repeated.
 */
export async function* watchSessionEvents(
  source: WatchSource,
  options: WatchOptions = {},
): AsyncGenerator<WatchedEvent, void, undefined> {
  const { controller, release } = streamController(options.signal);
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
          query: FOLLOW_QUERY,
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
      try {
        for await (const message of serverSentEvents(response, (ms) => (retryMs = ms))) {
          if (message.id !== undefined) lastEventId = message.id;
          const event = eventPayload(message);
          if (!event) continue;
          yield { ...event, ...(message.id !== undefined ? { id: message.id } : {}) } as WatchedEvent;
        }
      } catch {
        // The connection dropped mid-stream: fall through and reconnect.
      }
      if (signal.aborted || !(await source.isAlive(signal).catch(() => true))) return;
      await sleep(retryMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    release();
  }
}
