/**
 * TEST DOUBLE of the LLM gateway (LITELLM_API_BASE): one small server speaking the OpenAI-compatible
 * chat completions API and the Anthropic-compatible messages API, over HTTP or HTTPS, so a real
 * harness can finish real turns offline. Every reply is `fake-llm: <last user text>` (see
 * `fakeReplyTo`), streamed word by word when asked, so each turn's answer is predictable and distinct.
 * It records the credentials of every request, so tests can prove the gateway saw only the real key.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeLlmGatewayRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  apiKey: string | undefined;
}

export interface FakeLlmGateway {
  /** The origin, e.g. `http://127.0.0.1:4000`; the routes match under any prefix (`/v1/...` or none). */
  url: string;
  port: number;
  /** Every request, in order. */
  requests: FakeLlmGatewayRequest[];
  /** Every credential received: each request's Authorization and x-api-key values ('' when it sent none). */
  credentials(): string[];
  /** Holds every answer back until the returned function is called (a turn that takes its time). */
  stall(): () => void;
  close(): Promise<void>;
}

type ChatMessage = { role: string; content: unknown };

export async function startFakeLlmGateway(
  options: { tls?: { cert: string; key: string }; host?: string } = {},
): Promise<FakeLlmGateway> {
  const requests: FakeLlmGatewayRequest[] = [];
  let stalled: Promise<void> = Promise.resolve();
  const handle: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      await stalled;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.push({
        method: req.method ?? 'GET',
        path,
        authorization: req.headers.authorization,
        apiKey: req.headers['x-api-key'] as string | undefined,
      });
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
  };
  const server = options.tls ? https.createServer(options.tls, handle) : http.createServer(handle);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    requests,
    credentials: () =>
      requests.flatMap((r) => {
        const sent = [r.authorization, r.apiKey].filter((v): v is string => v !== undefined);
        return sent.length > 0 ? sent : [''];
      }),
    stall: () => {
      let release = () => undefined as void;
      stalled = new Promise((resolve) => (release = resolve));
      return release;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The reply to a conversation: the last user message's text, echoed. Claude Code wraps its own notes
 * into the user message as `<system-reminder>` blocks; they are not what the user typed, so they are
 * left out.
 */
export function fakeReplyTo(messages: ChatMessage[]): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const typed = textOf(lastUser?.content).replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '');
  return `fake-llm: ${typed.trim()}`;
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

/** The words of a reply, each keeping its trailing space: the deltas of a streamed answer. */
function wordsOf(reply: string): string[] {
  return reply.split(/(?<= )/);
}

function chatCompletion(res: http.ServerResponse, body: Record<string, unknown>): void {
  const reply = fakeReplyTo((body.messages as ChatMessage[]) ?? []);
  const model = String(body.model ?? 'fake-model');
  const id = `chatcmpl-${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const words = wordsOf(reply).length;
  const usage = { prompt_tokens: 10, completion_tokens: words, total_tokens: 10 + words };
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
  for (const word of wordsOf(reply)) chunk({ content: word }, null);
  chunk({}, 'stop', { usage });
  res.end('data: [DONE]\n\n');
}

function anthropicMessage(res: http.ServerResponse, body: Record<string, unknown>): void {
  const reply = fakeReplyTo((body.messages as ChatMessage[]) ?? []);
  const model = String(body.model ?? 'fake-model');
  const id = `msg_${Date.now()}`;
  const usage = { input_tokens: 10, output_tokens: wordsOf(reply).length };
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
  for (const word of wordsOf(reply))
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
