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
