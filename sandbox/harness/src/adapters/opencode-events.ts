/**
 * opencode's event stream (GET /event), for the session the harness drives, in our event
 * vocabulary: each piece of the reply's text exactly once, tool calls and results as they
 * happen, and every turn bracketed by turn_started / turn_done (or error). A POST /turn is
 * bracketed by the server; a turn sent straight to opencode (through `/opencode/*`) is
 * bracketed here, from opencode's own session status.
 */
import { randomUUID } from 'node:crypto';
import type { MessagePart } from '@lap/sandbox-protocol';
import type { EventSink } from './adapter';

export interface OpencodePart {
  id?: string;
  messageID?: string;
  type: string;
  text?: string;
  tool?: string;
  time?: { start?: number; end?: number };
  state?: { status?: string; input?: unknown; output?: unknown; error?: unknown };
}

export interface OpencodeEvent {
  type?: string;
  properties?: Record<string, unknown>;
}

/** opencode's parts -> protocol parts: text and tool calls; bookkeeping parts dropped. */
export function toProtocolParts(parts: OpencodePart[]): MessagePart[] {
  const out: MessagePart[] = [];
  for (const part of parts) {
    if (part.type === 'text' && part.text) out.push({ type: 'text', text: part.text });
    else if (part.type === 'tool') {
      out.push({
        type: 'tool',
        name: part.tool ?? 'unknown',
        status: part.state?.status,
        input: part.state?.input,
        output: part.state?.output ?? part.state?.error,
      });
    }
  }
  return out;
}

/** What was already published of one part. */
interface PartProgress {
  type: string;
  /** Text published so far (deltas, or the final text). */
  published: string;
  /** The final text is out: later deltas of this part are late copies. */
  closed: boolean;
  toolCalled: boolean;
  toolDone: boolean;
}

interface Turn {
  turnId: string;
  /** Started by POST /turn (the server publishes its turn_started and turn_done). */
  own: boolean;
  /** The latest state of each assistant part, in order of appearance. */
  parts: Map<string, OpencodePart>;
  error?: string;
}

const TOOL_CALLED = new Set(['running', 'completed', 'error']);
const TOOL_DONE = new Set(['completed', 'error']);

export class OpencodeEventTranslator {
  private turn: Turn | null = null;
  private sessionBusy = false;
  /** opencode may report the session busy once more after our turn's answer: not a new turn. */
  private ignoreBusyUntilIdle = false;
  private readonly assistantMessages = new Set<string>();
  private readonly progress = new Map<string, PartProgress>();

  constructor(private readonly emit: EventSink) {}

  /** A turn is running, whoever started it. */
  get busy(): boolean {
    return this.turn !== null || (this.sessionBusy && !this.ignoreBusyUntilIdle);
  }

  beginOwnTurn(turnId: string): void {
    this.clear();
    this.turn = { turnId, own: true, parts: new Map() };
  }

  /** The turn's answer arrived: publish whatever of it the event stream did not carry. */
  endOwnTurn(answer: OpencodePart[]): void {
    const turn = this.turn;
    if (!turn?.own) return;
    for (const part of answer) if (part.id) this.publishPart(turn, part, true);
    this.turn = null;
    if (this.sessionBusy) this.ignoreBusyUntilIdle = true;
    this.clear();
  }

  /** opencode went away: a turn it was running for someone else ends with an error. */
  reset(reason: string): void {
    const turn = this.turn;
    if (turn && !turn.own) this.emit({ type: 'error', turn_id: turn.turnId, message: reason });
    if (!turn?.own) this.turn = null;
    this.sessionBusy = false;
    this.ignoreBusyUntilIdle = false;
    this.clear();
  }

  /** One event of the harness's opencode session. */
  handle(event: OpencodeEvent): void {
    const properties = event.properties ?? {};
    switch (event.type) {
      case 'session.status': {
        const status = (properties.status as { type?: string } | undefined)?.type;
        if (status === 'idle') this.onIdle();
        else if (status) this.onBusy();
        return;
      }
      case 'session.idle':
        return this.onIdle();
      case 'session.error':
        if (this.turn && !this.turn.own) this.turn.error = errorMessage(properties.error);
        return;
      case 'message.updated': {
        const info = properties.info as { id?: string; role?: string; error?: unknown } | undefined;
        if (info?.id && info.role === 'assistant') {
          this.assistantMessages.add(info.id);
          if (info.error && this.turn && !this.turn.own) this.turn.error = errorMessage(info.error);
        }
        return;
      }
      case 'message.part.updated': {
        const part = properties.part as OpencodePart | undefined;
        if (!this.turn || !part?.id || !this.assistantMessages.has(String(part.messageID))) return;
        this.turn.parts.set(part.id, part);
        return this.publishPart(this.turn, part, false);
      }
      case 'message.part.delta': {
        const progress = this.progress.get(String(properties.partID));
        if (!this.turn || !progress || progress.type !== 'text' || progress.closed) return;
        if (properties.field !== 'text' || typeof properties.delta !== 'string') return;
        progress.published += properties.delta;
        this.emit({ type: 'token', turn_id: this.turn.turnId, text: properties.delta });
        return;
      }
    }
  }

  private onBusy(): void {
    this.sessionBusy = true;
    if (this.turn || this.ignoreBusyUntilIdle) return;
    this.clear();
    this.turn = { turnId: randomUUID(), own: false, parts: new Map() };
    this.emit({ type: 'turn_started', turn_id: this.turn.turnId });
  }

  private onIdle(): void {
    this.sessionBusy = false;
    this.ignoreBusyUntilIdle = false;
    const turn = this.turn;
    if (!turn || turn.own) return;
    this.turn = null;
    if (turn.error) this.emit({ type: 'error', turn_id: turn.turnId, message: turn.error });
    else
      this.emit({
        type: 'turn_done',
        turn_id: turn.turnId,
        parts: toProtocolParts([...turn.parts.values()]),
      });
    this.clear();
  }

  /** Publishes what is new in a part; `final` when the part cannot change any more. */
  private publishPart(turn: Turn, part: OpencodePart, final: boolean): void {
    const id = part.id!;
    let progress = this.progress.get(id);
    if (!progress) {
      progress = { type: part.type, published: '', closed: false, toolCalled: false, toolDone: false };
      this.progress.set(id, progress);
    }
    if (part.type === 'text') {
      if (progress.closed || !(final || part.time?.end)) return;
      const text = part.text ?? '';
      // The deltas carried a prefix of the final text: only the rest is new.
      if (text.startsWith(progress.published) && text.length > progress.published.length)
        this.emit({ type: 'token', turn_id: turn.turnId, text: text.slice(progress.published.length) });
      progress.published = text;
      progress.closed = true;
    } else if (part.type === 'tool') {
      const status = part.state?.status ?? (final ? 'completed' : '');
      const name = part.tool ?? 'unknown';
      if (!progress.toolCalled && (TOOL_CALLED.has(status) || final)) {
        progress.toolCalled = true;
        this.emit({ type: 'tool_call', turn_id: turn.turnId, name, input: part.state?.input });
      }
      if (!progress.toolDone && (TOOL_DONE.has(status) || final)) {
        progress.toolDone = true;
        this.emit({
          type: 'tool_result',
          turn_id: turn.turnId,
          name,
          output: part.state?.output ?? part.state?.error,
        });
      }
    }
  }

  private clear(): void {
    this.assistantMessages.clear();
    this.progress.clear();
  }
}

/** opencode's error objects: `{ name, data: { message } }`. */
export function errorMessage(error: unknown): string {
  const e = error as { name?: string; data?: { message?: string } } | undefined;
  return `the agent failed: ${e?.data?.message ?? e?.name ?? 'unknown error'}`;
}
