import type {
  SDKAssistantMessage,
  SDKContentBlock,
  SDKMessage,
  SDKPartialAssistantMessage,
} from './sdk-messages.js';

/**
 * What `foldSdkMessages` takes: this SDK's messages or the Claude SDK's own (`SDKMessage` of
 * `@anthropic-ai/claude-agent-sdk`, whose interfaces are not assignable to the looser types here).
 */
export type SDKMessageLike = SDKMessage | { type: string };

/** What `foldSdkMessages` returns: every kind of message except the partial frames it folded in. */
export type FoldedMessage = Exclude<SDKMessage, SDKPartialAssistantMessage>;

/**
 * Turns a stream of SDK messages into the list a viewer renders: the partial frames
 * (`stream_event`: message_start, content_block_start, content_block_delta) grow one
 * assistant message per Anthropic message id, in place; an authoritative `assistant`
 * message with the same id replaces what was grown; user, system and result messages
 * pass through in order. Pure: the input is never modified.
 */
export function foldSdkMessages(stream: readonly SDKMessageLike[]): FoldedMessage[] {
  const folded: FoldedMessage[] = [];
  /** Anthropic message id -> index in `folded`, in the order the ids were first seen. */
  const indexById = new Map<string, number>();
  let current: number | undefined;

  for (const item of stream) {
    if (item === null || typeof item !== 'object') continue;
    const message = item as SDKMessage;
    if (message.type === 'stream_event') {
      current = applyFrame(message, folded, indexById, current);
    } else if (message.type === 'assistant') {
      const id = typeof message.message?.id === 'string' ? message.message.id : undefined;
      const existing = id === undefined ? undefined : indexById.get(id);
      if (existing !== undefined) {
        folded[existing] = message;
        current = existing;
      } else {
        current = folded.push(message) - 1;
        if (id !== undefined) indexById.set(id, current);
      }
    } else {
      folded.push(message);
    }
  }
  return folded;
}

/** Applies one streaming frame; returns the index of the assistant message frames now apply to. */
function applyFrame(
  message: SDKPartialAssistantMessage,
  folded: FoldedMessage[],
  indexById: Map<string, number>,
  current: number | undefined,
): number | undefined {
  const frame = message.event;
  if (!frame || typeof frame !== 'object') return current;
  if (frame.type === 'message_start') {
    const started = asRecord(frame.message);
    const id = typeof started?.id === 'string' ? started.id : undefined;
    if (id === undefined) return current;
    const known = indexById.get(id);
    if (known !== undefined) return known;
    const placeholder: SDKAssistantMessage = {
      type: 'assistant',
      message: {
        ...started,
        content: Array.isArray(started?.content) ? [...(started.content as SDKContentBlock[])] : [],
      },
      parent_tool_use_id: message.parent_tool_use_id ?? null,
      session_id: message.session_id,
      uuid: message.uuid,
    };
    const index = folded.push(placeholder) - 1;
    indexById.set(id, index);
    return index;
  }
  if (current === undefined || folded[current]?.type !== 'assistant') return current;
  const position = typeof frame.index === 'number' ? frame.index : -1;
  if (position < 0) return current;
  if (frame.type === 'content_block_start') {
    const block = asRecord(frame.content_block);
    if (block) updateBlock(folded, current, position, () => startedBlock(block));
  } else if (frame.type === 'content_block_delta') {
    const delta = asRecord(frame.delta);
    if (delta) updateBlock(folded, current, position, (block) => grownBlock(block, delta));
  }
  // content_block_stop, message_delta, message_stop: nothing to render until the snapshot lands.
  return current;
}

/** Replaces one content block of the assistant message at `index` with a copy (no mutation). */
function updateBlock(
  folded: FoldedMessage[],
  index: number,
  position: number,
  change: (block: SDKContentBlock | undefined) => SDKContentBlock,
): void {
  const target = folded[index] as SDKAssistantMessage;
  const content = [...(target.message.content ?? [])];
  content[position] = change(content[position]);
  folded[index] = { ...target, message: { ...target.message, content } };
}

function startedBlock(block: Record<string, unknown>): SDKContentBlock {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: typeof block.text === 'string' ? block.text : '' };
    case 'thinking':
      return { type: 'thinking', thinking: typeof block.thinking === 'string' ? block.thinking : '' };
    case 'tool_use':
      // The input arrives as JSON fragments; they collect in `input_partial_json` until the snapshot.
      return {
        type: 'tool_use',
        id: typeof block.id === 'string' ? block.id : '',
        name: typeof block.name === 'string' ? block.name : '',
        input: asRecord(block.input) ?? {},
        input_partial_json: '',
      };
    default:
      return { ...block, type: String(block.type) };
  }
}

function grownBlock(block: SDKContentBlock | undefined, delta: Record<string, unknown>): SDKContentBlock {
  const base: SDKContentBlock = block ?? { type: 'text' };
  const append = (key: string, piece: unknown, type: string): SDKContentBlock =>
    typeof piece === 'string'
      ? { ...base, type, [key]: (typeof base[key] === 'string' ? base[key] : '') + piece }
      : base;
  switch (delta.type) {
    case 'text_delta':
      return append('text', delta.text, 'text');
    case 'thinking_delta':
      return append('thinking', delta.thinking, 'thinking');
    case 'input_json_delta':
      return append('input_partial_json', delta.partial_json, base.type);
    default:
      return base;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
