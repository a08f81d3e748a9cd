import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';
import { fromWire } from './wire-format.js';

/** The Server-Sent Events of a response body, message by message. */
export function serverSentEvents(
  response: Response,
  onRetry?: (retryMs: number) => void,
): ReadableStream<EventSourceMessage> {
  if (!response.body) throw new Error('the platform answered an event stream request without a body');
  return response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ onRetry }));
}

/**
 * A message's `data` as a camelCased object; `type` comes from the data, or else from the
 * SSE `event:` name. Undefined for data that is not JSON (skipped, as the upstream SDK does).
 */
export function eventPayload(message: EventSourceMessage): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.data);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const payload = fromWire<Record<string, unknown>>(parsed);
  if (typeof payload.type !== 'string' && message.event) payload.type = message.event;
  return payload;
}

/**
 * An abort controller for one stream that also aborts when the caller's signal does
 * (already aborted included); `release()` ends the stream and detaches from the caller.
 */
export function streamController(caller: AbortSignal | undefined): {
  controller: AbortController;
  release: () => void;
} {
  const controller = new AbortController();
  const onAbort = () => controller.abort(caller?.reason);
  if (caller?.aborted) onAbort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  return {
    controller,
    release: () => {
      caller?.removeEventListener('abort', onAbort);
      controller.abort();
    },
  };
}
