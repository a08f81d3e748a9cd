/**
 * The `opencode` harness: drives a real `opencode serve` on a private loopback port.
 * opencode is configured (OPENCODE_CONFIG_CONTENT, nothing written into the repo) with the
 * LiteLLM gateway as an OpenAI-compatible provider; its key is the vault's stub, so the
 * real key is added by the vault on the way out. A turn is
 * POST /session/{id}/message, which answers when the agent is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessagePart } from '@lap/sandbox-protocol';
import { createParser } from 'eventsource-parser';
import type { Logger } from 'pino';
import type { ApiHarnessAdapter, TurnContext } from './adapter';

export interface OpencodeAdapterOptions {
  /** Path of the opencode binary. */
  binary: string;
  cwd: string;
  env: Record<string, string>;
  model: string;
  prompt: string;
  litellmApiBase: string;
  logger: Logger;
  startTimeoutMs?: number;
}

const PROVIDER = 'litellm';

/** The opencode binary: OPENCODE_BIN, else node_modules/.bin/opencode from here upwards, else PATH. */
export function findOpencodeBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPENCODE_BIN) return env.OPENCODE_BIN;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', '.bin', 'opencode');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return 'opencode';
  }
}

/** LiteLLM serves the OpenAI API under /v1; accept the base with or without it. */
export function openAiBaseUrl(apiBase: string): string {
  const trimmed = apiBase.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`;
}

export function opencodeConfig(model: string, apiBase: string): Record<string, unknown> {
  return {
    $schema: 'https://opencode.ai/config.json',
    provider: {
      [PROVIDER]: {
        npm: '@ai-sdk/openai-compatible',
        name: 'LiteLLM',
        options: { baseURL: openAiBaseUrl(apiBase), apiKey: '{env:LITELLM_API_KEY}' },
        models: { [model]: { name: model } },
      },
    },
    model: `${PROVIDER}/${model}`,
    small_model: `${PROVIDER}/${model}`,
    autoupdate: false,
    share: 'disabled',
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface OpencodePart {
  type: string;
  text?: string;
  tool?: string;
  state?: { status?: string; input?: unknown; output?: unknown; error?: unknown };
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

export class OpencodeAdapter implements ApiHarnessAdapter {
  readonly kind = 'api';
  private process: ChildProcess | null = null;
  private baseUrl = '';
  private readonly authorization: string;
  private readonly password = randomBytes(24).toString('hex');
  private sessionId = '';
  private exited: string | null = null;
  /** The turn whose text deltas are streamed as `token` events right now. */
  private streamingTurn: TurnContext | null = null;
  private streamedTokens = 0;
  private readonly partTypes = new Map<string, string>();
  private readonly eventStream = new AbortController();

  constructor(private readonly options: OpencodeAdapterOptions) {
    this.authorization = `Basic ${Buffer.from(`opencode:${this.password}`).toString('base64')}`;
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.baseUrl = `http://127.0.0.1:${port}`;
    const child = spawn(
      this.options.binary,
      ['serve', '--print-logs', '--port', String(port), '--hostname', '127.0.0.1'],
      {
        cwd: this.options.cwd,
        env: {
          ...this.options.env,
          OPENCODE_CONFIG_CONTENT: JSON.stringify(
            opencodeConfig(this.options.model, this.options.litellmApiBase),
          ),
          // Only the harness may drive it, even on loopback.
          OPENCODE_SERVER_PASSWORD: this.password,
          OPENCODE_DISABLE_AUTOUPDATE: 'true',
          OPENCODE_DISABLE_MODELS_FETCH: 'true',
          OPENCODE_DISABLE_SHARE: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.process = child;
    const tail: string[] = [];
    const keep = (chunk: Buffer) => {
      const lines = chunk.toString().split('\n').filter(Boolean);
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - 20));
      for (const line of lines)
        this.options.logger.debug({ event: 'opencode_log', line: line.slice(0, 500) });
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => (this.exited = error.message));
    child.once('exit', (code, signal) => {
      this.exited = `opencode exited (code ${code}, signal ${signal}): ${tail.slice(-5).join(' | ')}`;
      this.options.logger.warn({ event: 'opencode_exited', code, signal });
    });

    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (this.exited) throw new Error(`opencode serve did not start: ${this.exited}`);
      try {
        // A bounded probe: a request accepted while opencode is still booting may never be answered.
        const response = await this.call('POST', '/session', {}, AbortSignal.timeout(10_000));
        this.sessionId = ((await response.json()) as { id: string }).id;
        break;
      } catch (error) {
        this.options.logger.debug({ event: 'opencode_probe', message: (error as Error).message });
        if (Date.now() > deadline)
          throw new Error(
            `opencode serve did not answer within the start timeout: ${(error as Error).message}`,
            { cause: error },
          );
        await sleep(250);
      }
    }
    this.options.logger.info({ event: 'opencode_ready', port, session: this.sessionId });
    void this.followEvents();
  }

  /** opencode's own event stream: text deltas of the session become `token` events. */
  private async followEvents(): Promise<void> {
    const parser = createParser({
      onEvent: ({ data }) => {
        let event: { type?: string; properties?: Record<string, unknown> };
        try {
          event = JSON.parse(data) as typeof event;
        } catch {
          return;
        }
        const properties = event.properties ?? {};
        if (properties.sessionID !== this.sessionId) return;
        if (event.type === 'message.part.updated') {
          const part = properties.part as { id?: string; type?: string } | undefined;
          if (part?.id && part.type) this.partTypes.set(part.id, part.type);
        } else if (event.type === 'message.part.delta' && this.streamingTurn) {
          const isText =
            properties.field === 'text' && this.partTypes.get(String(properties.partID)) === 'text';
          if (isText && typeof properties.delta === 'string') {
            this.streamedTokens += 1;
            this.streamingTurn.emit({
              type: 'token',
              turn_id: this.streamingTurn.turnId,
              text: properties.delta,
            });
          }
        }
      },
    });
    try {
      const response = await this.call('GET', '/event', undefined, this.eventStream.signal);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
    } catch (error) {
      if (!this.eventStream.signal.aborted) {
        // Turns still work without it; tokens then arrive with the finished turn.
        this.options.logger.warn({ event: 'opencode_events_lost', message: (error as Error).message });
      }
    }
  }

  private async call(method: string, route: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const response = await fetch(`${this.baseUrl}${route}`, {
      method,
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (!response.ok)
      throw new Error(
        `opencode ${method} ${route}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`,
      );
    return response;
  }

  async turn(parts: MessagePart[], context: TurnContext): Promise<MessagePart[]> {
    if (this.exited) throw new Error(this.exited);
    const onAbort = () => void this.call('POST', `/session/${this.sessionId}/abort`).catch(() => undefined);
    context.signal.addEventListener('abort', onAbort, { once: true });
    this.streamingTurn = context;
    this.streamedTokens = 0;
    try {
      const response = await this.call('POST', `/session/${this.sessionId}/message`, {
        parts: parts.map((part) => (part.type === 'text' ? { type: 'text', text: part.text } : part)),
        model: { providerID: PROVIDER, modelID: this.options.model },
        ...(this.options.prompt ? { system: this.options.prompt } : {}),
      });
      const result = (await response.json()) as {
        info?: { error?: { data?: { message?: string }; name?: string } };
        parts?: OpencodePart[];
      };
      if (result.info?.error) {
        throw new Error(
          `the agent failed: ${result.info.error.data?.message ?? result.info.error.name ?? 'unknown error'}`,
        );
      }
      const out = toProtocolParts(result.parts ?? []);
      for (const part of out) {
        if (part.type === 'text')
          context.emit({ type: 'token', turn_id: context.turnId, text: String(part.text) });
        else if (part.type === 'tool') {
          context.emit({
            type: 'tool_call',
            turn_id: context.turnId,
            name: String(part.name),
            input: part.input,
          });
          context.emit({
            type: 'tool_result',
            turn_id: context.turnId,
            name: String(part.name),
            output: part.output,
          });
        }
      }
      return out;
    } finally {
      this.streamingTurn = null;
      context.signal.removeEventListener('abort', onAbort);
    }
  }

  async stop(): Promise<void> {
    this.eventStream.abort();
    if (this.process && !this.exited) {
      this.process.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => this.process!.once('exit', resolve)), sleep(5000)]);
      if (!this.exited) this.process.kill('SIGKILL');
    }
  }
}
