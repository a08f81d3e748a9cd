/** A fake OpenAI-compatible LiteLLM gateway on plain HTTP: streams a fixed answer and records each request's key. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const GATEWAY_ANSWER = 'Hello from the fake gateway';

export async function startFakeGateway(): Promise<{
  url: string;
  authorizations: string[];
  close(): Promise<void>;
}> {
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      authorizations.push(String(req.headers.authorization ?? req.headers['x-api-key'] ?? ''));
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
      res.write(chunk({ content: 'the fake gateway' }, null));
      res.write(chunk({}, 'stop', { usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } }));
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
