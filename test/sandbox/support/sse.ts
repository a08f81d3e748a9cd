/** Reads a server-sent event stream in the background and keeps every event. */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseStream {
  /** Resolves with the answer's status once its headers arrived (the stream is subscribed). */
  opened: Promise<number>;
  events: EventSourceMessage[];
  /** The events whose data is JSON, parsed. */
  json<T = Record<string, unknown>>(): T[];
  waitFor<T = Record<string, unknown>>(predicate: (data: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export function openSse(url: string, headers: Record<string, string> = {}): SseStream {
  const controller = new AbortController();
  const events: EventSourceMessage[] = [];
  let opened: (status: number) => void = () => undefined;
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const done = fetch(url, { headers, signal: controller.signal })
    .then(async (response) => {
      opened(response.status);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
        parser.feed(decoder.decode(chunk, { stream: true }));
    })
    .catch(() => opened(0));
  const json = <T>() =>
    events.flatMap((event) => {
      try {
        return [JSON.parse(event.data) as T];
      } catch {
        return [];
      }
    });
  return {
    opened: new Promise((resolve) => (opened = resolve)),
    events,
    json,
    async waitFor<T>(predicate: (data: T) => boolean, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = json<T>().find(predicate);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no matching event on ${url} within ${timeoutMs} ms; got ${events.length} events`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}
