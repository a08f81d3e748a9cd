import type { HarnessEvent, MessagePart } from '@lap/sandbox-protocol';
import type { WebSocket } from 'ws';

export interface TurnContext {
  turnId: string;
  /** Publishes on GET /events. */
  emit(event: HarnessEvent): void;
  /** Aborted by POST /abort. */
  signal: AbortSignal;
}

/** A harness answering JSON turns (opencode, claude-agent-sdk). */
export interface ApiHarnessAdapter {
  kind: 'api';
  start(): Promise<void>;
  turn(parts: MessagePart[], context: TurnContext): Promise<MessagePart[]>;
  stop(): Promise<void>;
}

/** A harness exposing a terminal program over WebSocket (claude-code, codex). */
export interface TuiHarnessAdapter {
  kind: 'tui';
  start(): Promise<void>;
  attach(socket: WebSocket): void;
  stop(): Promise<void>;
}

export type HarnessAdapter = ApiHarnessAdapter | TuiHarnessAdapter;

/** The text of the prompt parts (the harnesses take text; other parts are described). */
export function promptText(parts: MessagePart[]): string {
  return parts
    .map((part) =>
      part.type === 'text' && typeof part.text === 'string' ? part.text : `[${part.type} part]`,
    )
    .join('\n');
}
