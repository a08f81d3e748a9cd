/** A fake OpenAI-compatible LLM over HTTPS: streams a fixed answer and records each request's key. */
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export const FAKE_ANSWER = 'Hello from the fake LLM';

export async function startFakeLlm(tls: { cert: string; key: string }, host = '127.0.0.1') {
  const authorizations: string[] = [];
  const server = https.createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      authorizations.push(req.headers.authorization ?? '');
      if (req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'test-model', object: 'model' }] }));
        return;
      }
      const request = body ? (JSON.parse(body) as { stream?: boolean }) : {};
      const base = { id: 'chatcmpl-1', created: 1, model: 'test-model' };
      if (!request.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'A title' }, finish_reason: 'stop' },
            ],
            usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null, extra: object = {}) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
      res.write(chunk({ role: 'assistant', content: 'Hello from ' }, null));
      res.write(chunk({ content: 'the fake LLM' }, null));
      res.write(chunk({}, 'stop', { usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } }));
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const FAKE_CLAUDE_ANSWER = 'Hello from the fake Claude';

/** A fake Anthropic Messages API over HTTPS (what the gateway serves to Claude clients). */
export async function startFakeAnthropic(tls: { cert: string; key: string }, host = '127.0.0.1') {
  const keys: string[] = [];
  const server = https.createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (!req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      keys.push(String(req.headers['x-api-key'] ?? req.headers.authorization ?? ''));
      const request = JSON.parse(body || '{}') as { model?: string; stream?: boolean };
      const message = {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: request.model,
        content: [] as unknown[],
        stop_reason: null as string | null,
        stop_sequence: null,
        usage: { input_tokens: 5, output_tokens: 1 },
      };
      if (!request.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...message,
            content: [{ type: 'text', text: FAKE_CLAUDE_ANSWER }],
            stop_reason: 'end_turn',
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (type: string, data: object) =>
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      event('message_start', { message });
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: FAKE_CLAUDE_ANSWER } });
      event('content_block_stop', { index: 0 });
      event('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 5 },
      });
      event('message_stop', {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
