/**
 * TEST DOUBLE of the LLM gateway (LITELLM_API_BASE): a tiny OpenAI-compatible and
 * Anthropic-compatible server so a real harness can finish real turns offline.
 * Every reply is `fake-llm: <last user text>`, streamed word by word when asked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLlmServer {
  url: string;
  /** Every request's method, path and authorization header, in order. */
  requests: Array<{ method: string; path: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

type ChatMessage = { role: string; content: unknown };

export async function startFakeLlmServer(): Promise<FakeLlmServer> {
  const requests: FakeLlmServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const auth = req.headers.authorization ?? (req.headers['x-api-key'] as string | undefined);
      requests.push({ method: req.method ?? 'GET', path, authorization: auth });
      const body = parseJson(Buffer.concat(chunks).toString());
      if (path.endsWith('/models')) {
        return json(res, { object: 'list', data: [{ id: 'fake-model', object: 'model', owned_by: 'fake' }] });
      }
      if (path.endsWith('/chat/completions')) return chatCompletion(res, body);
      if (path.endsWith('/messages')) return anthropicMessage(res, body);
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: `no route ${path}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The reply to a conversation: the last user message's text, echoed. */
export function fakeReplyTo(messages: ChatMessage[]): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return `fake-llm: ${textOf(lastUser?.content).trim()}`;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) =>
        part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
      )
      .join('');
  }
  return '';
}

function chatCompletion(res: http.ServerResponse, body: Record<string, unknown>): void {
  const reply = fakeReplyTo((body.messages as ChatMessage[]) ?? []);
  const model = String(body.model ?? 'fake-model');
  const id = `chatcmpl-${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = {
    prompt_tokens: 10,
    completion_tokens: reply.split(' ').length,
    total_tokens: 10 + reply.split(' ').length,
  };
  if (!body.stream) {
    return json(res, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }],
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`,
    );
  chunk({ role: 'assistant', content: '' }, null);
  for (const word of reply.split(/(?<= )/)) chunk({ content: word }, null);
  chunk({}, 'stop', { usage });
  res.end('data: [DONE]\n\n');
}

function anthropicMessage(res: http.ServerResponse, body: Record<string, unknown>): void {
  const reply = fakeReplyTo((body.messages as ChatMessage[]) ?? []);
  const model = String(body.model ?? 'fake-model');
  const id = `msg_${Date.now()}`;
  const usage = { input_tokens: 10, output_tokens: reply.split(' ').length };
  if (!body.stream) {
    return json(res, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: reply }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (type: string, data: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 0 },
    },
  });
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  for (const word of reply.split(/(?<= )/))
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: word } });
  event('content_block_stop', { index: 0 });
  event('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event('message_stop', {});
  res.end();
}

function parseJson(text: string): Record<string, unknown> {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function json(res: http.ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
