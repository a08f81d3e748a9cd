/**
 * Structural types of the messages `@anthropic-ai/claude-agent-sdk`'s `query()` yields
 * (its `SDKMessage`), as far as this SDK reads them. Declared here so the SDK needs no
 * dependency on the Claude SDK; every object keeps the fields it arrived with, and a value
 * of the Claude SDK's own types can be cast to these (and back) at the render boundary.
 * Keys stay as Anthropic sends them (snake_case).
 */

/** A content block of an assistant or user message (text, thinking, tool_use, tool_result, ...). */
export type SDKContentBlock = { type: string; [key: string]: unknown };

export interface SDKAssistantMessage {
  type: 'assistant';
  message: { id?: string; role?: 'assistant'; content: SDKContentBlock[]; [key: string]: unknown };
  parent_tool_use_id?: string | null;
  session_id?: string;
  uuid?: string;
  [key: string]: unknown;
}

export interface SDKUserMessage {
  type: 'user';
  message: { role?: 'user'; content: string | SDKContentBlock[]; [key: string]: unknown };
  parent_tool_use_id?: string | null;
  session_id?: string;
  uuid?: string;
  [key: string]: unknown;
}

export interface SDKResultMessage {
  type: 'result';
  subtype: string;
  result?: string;
  is_error?: boolean;
  session_id?: string;
  uuid?: string;
  [key: string]: unknown;
}

export interface SDKSystemMessage {
  type: 'system';
  subtype: string;
  session_id?: string;
  uuid?: string;
  [key: string]: unknown;
}

/** A raw Anthropic streaming frame (`message_start`, `content_block_delta`, ...) of a partial assistant message. */
export interface SDKPartialAssistantMessage {
  type: 'stream_event';
  event: { type: string; [key: string]: unknown };
  parent_tool_use_id?: string | null;
  session_id?: string;
  uuid?: string;
  [key: string]: unknown;
}

export type SDKMessage =
  SDKAssistantMessage | SDKUserMessage | SDKResultMessage | SDKSystemMessage | SDKPartialAssistantMessage;
