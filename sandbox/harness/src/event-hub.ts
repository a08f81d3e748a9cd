import type { HarnessEvent } from '@lap/sandbox-protocol';

export interface SequencedEvent {
  id: number;
  event: HarnessEvent;
}

/**
 * The harness's event stream: every event gets an increasing id; the last few hundred are
 * kept so a client reconnecting with Last-Event-ID misses nothing recent.
 */
export class EventHub {
  private nextId = 1;
  private readonly recent: SequencedEvent[] = [];
  private readonly listeners = new Set<(event: SequencedEvent) => void>();

  constructor(private readonly keep = 500) {}

  publish(event: HarnessEvent): void {
    const sequenced = { id: this.nextId++, event };
    this.recent.push(sequenced);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const listener of this.listeners) listener(sequenced);
  }

  since(lastId: number): SequencedEvent[] {
    return this.recent.filter((entry) => entry.id > lastId);
  }

  subscribe(listener: (event: SequencedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
