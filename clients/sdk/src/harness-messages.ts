import { randomUUID } from 'node:crypto';
import type { SDKContentBlock, SDKMessage } from './sdk-messages.js';

/**
 * Renders this platform's harness events (the sandbox protocol's `HarnessEvent`, as
 * GET /sessions/{id}/stream forwards them: `turn_started`, `token`, `tool_call`,
 * `tool_result`, `turn_done`) as the SDK messages `createClaudeStream` yields, so a viewer
 * written for the Claude SDK's messages (and `foldSdkMessages`) shows every harness's turns:
 * a turn is one assistant message whose text grows by `stream_event` deltas, tool calls are
 * `tool_use` blocks, tool results `user` messages, and the end of the turn is the
 * authoritative `assistant` message followed by a `result`.
 */
export class HarnessMessageRenderer {
  private turnId = '';
  private blocks: SDKContentBlock[] = [];
  private openText = false;

  constructor(private readonly sessionId: string) {}

  /** The SDK messages for one raw harness event; [] for events that are not in this vocabulary. */
  render(event: Record<string, unknown>): SDKMessage[] {
    const turnId = typeof event.turn_id === 'string' ? event.turn_id : this.turnId;
    switch (event.type) {
      case 'turn_started':
        this.turnId = turnId;
        this.blocks = [];
        this.openText = false;
        return [
          this.frame({ type: 'message_start', message: { id: turnId, role: 'assistant', content: [] } }),
        ];
      case 'token': {
        if (typeof event.text !== 'string') return [];
        const messages: SDKMessage[] = [];
        if (!this.openText) {
          this.blocks.push({ type: 'text', text: '' });
          this.openText = true;
          messages.push(
            this.frame({
              type: 'content_block_start',
              index: this.blocks.length - 1,
              content_block: { type: 'text', text: '' },
            }),
          );
        }
        const block = this.blocks[this.blocks.length - 1];
        block.text = `${String(block.text)}${event.text}`;
        messages.push(
          this.frame({
            type: 'content_block_delta',
            index: this.blocks.length - 1,
            delta: { type: 'text_delta', text: event.text },
          }),
        );
        return messages;
      }
      case 'tool_call': {
        this.openText = false;
        const block: SDKContentBlock = {
          type: 'tool_use',
          id: this.toolUseId(this.blocks.length),
          name: String(event.name ?? ''),
          input: event.input ?? {},
        };
        this.blocks.push(block);
        return [
          this.frame({ type: 'content_block_start', index: this.blocks.length - 1, content_block: block }),
        ];
      }
      case 'tool_result': {
        this.openText = false;
        const call = [...this.blocks].reverse().find((b) => b.type === 'tool_use' && b.name === event.name);
        return [
          {
            type: 'user',
            message: {
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: call?.id ?? '', content: event.output ?? null }],
            },
            parent_tool_use_id: null,
            session_id: this.sessionId,
            uuid: randomUUID(),
          },
        ];
      }
      case 'turn_done': {
        const parts = Array.isArray(event.parts) ? (event.parts as Array<Record<string, unknown>>) : [];
        const replyText = parts
          .filter((part) => part.type === 'text' && typeof part.text === 'string')
          .map((part) => String(part.text))
          .join('');
        // The parts are authoritative: keep the streamed text only when it is the whole reply
        // (a stream joined mid-turn, or a harness that does not stream tokens, has less).
        const streamedText = this.blocks
          .filter((b) => b.type === 'text')
          .map((b) => String(b.text))
          .join('');
        const content =
          streamedText === replyText
            ? [...this.blocks]
            : [
                ...this.blocks.filter((b) => b.type !== 'text'),
                ...(replyText ? [{ type: 'text', text: replyText }] : []),
              ];
        this.blocks = [];
        this.openText = false;
        return [
          {
            type: 'assistant',
            message: { id: turnId, role: 'assistant', content },
            parent_tool_use_id: null,
            session_id: this.sessionId,
            uuid: randomUUID(),
          },
          {
            type: 'result',
            subtype: 'success',
            is_error: false,
            result: replyText,
            session_id: this.sessionId,
            uuid: randomUUID(),
          },
        ];
      }
      default:
        return [];
    }
  }

  private toolUseId(position: number): string {
    return `${this.turnId}:${position}`;
  }

  private frame(event: Record<string, unknown> & { type: string }): SDKMessage {
    return {
      type: 'stream_event',
      event,
      parent_tool_use_id: null,
      session_id: this.sessionId,
      uuid: randomUUID(),
    };
  }
}
