import type { HarnessEvent, MessagePart } from '@lap/sandbox-protocol';
import type { WebSocket } from 'ws';

/** Publishes on GET /events. */
export type EventSink = (event: HarnessEvent) => void;

export interface TurnContext {
  turnId: string;
  emit: EventSink;
  /** Aborted by POST /abort. */
  signal: AbortSignal;
}

/** The agent process as /health reports it. */
export interface AgentHealth {
  /** `starting`: booting, or restarting after the agent process died. */
  state: 'ready' | 'starting' | 'dead';
  /** Why it is dead or restarting: exit code or signal, never the agent's log lines. */
  reason?: string;
}

/** The agent cannot take a turn now (restarting or dead): 503 with this message. */
export class AgentUnavailableError extends Error {
  override readonly name = 'AgentUnavailableError';
}

/** The agent is already running a turn (e.g. one sent through the opencode passthrough): 409. */
export class AgentBusyError extends Error {
  override readonly name = 'AgentBusyError';
}

/** The agent's own HTTP server (opencode), reached through `ALL /opencode/*`. */
export interface NativeServer {
  url: string;
  authorization: string;
  /** The request through it is over (the agent may idle again). */
  release(): void;
}

interface AdapterBase {
  /** Starts the agent; `emit` publishes events that belong to no POST /turn (e.g. a restart). */
  start(emit: EventSink): Promise<void>;
  stop(): Promise<void>;
  health(): AgentHealth;
  /** The id of the conversation the harness drives (opencode's session id), or null. */
  conversationId(): string | null;
}

/** A harness answering JSON turns (opencode, claude-agent-sdk). */
export interface ApiHarnessAdapter extends AdapterBase {
  kind: 'api';
  turn(parts: MessagePart[], context: TurnContext): Promise<MessagePart[]>;
  /** A turn runs that POST /turn did not start (sent straight to the agent's own server). */
  busy(): boolean;
  /** Stops such a turn; a POST /turn in flight is stopped through its context's signal. */
  abort(): void;
  /** Set for harnesses with a server of their own (opencode), for one request; null while it is down. */
  nativeServer?(): Promise<NativeServer | null>;
}

/** A harness exposing a terminal program over WebSocket (claude-code, codex). */
export interface TuiHarnessAdapter extends AdapterBase {
  kind: 'tui';
  attach(socket: WebSocket): void;
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
