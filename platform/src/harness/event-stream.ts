/**
 * Reads a harness's Server-Sent Events stream (GET /events): one `{ id, type, data }`
 * per event, in order, and a marker for each comment line (the harness writes
 * `: connected` after replaying what a Last-Event-ID asked for).
 */
import type { Readable } from 'node:stream';

export type SseItem =
  { kind: 'event'; id: string | null; type: string | null; data: string } | { kind: 'comment'; text: string };

export async function* readSse(body: Readable): AsyncGenerator<SseItem> {
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buffer += decoder.decode(chunk as Buffer, { stream: true });
    for (;;) {
      const end = buffer.search(/\r?\n\r?\n/);
      if (end < 0) break;
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let id: string | null = null;
      let type: string | null = null;
      const data: string[] = [];
      for (const line of frame.split(/\r?\n/)) {
        if (line.startsWith(':')) {
          yield { kind: 'comment', text: line.slice(1).trim() };
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) yield { kind: 'event', id, type, data: data.join('\n') };
    }
  }
}
