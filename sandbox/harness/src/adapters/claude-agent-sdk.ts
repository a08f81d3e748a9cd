/**
 * The `claude-agent-sdk` harness: each turn is a query() of the Anthropic Agent SDK,
 * resuming the previous turn's conversation. The SDK talks to the LiteLLM gateway
 * (ANTHROPIC_BASE_URL) with the vault's stub as its key; the vault swaps it on the way out.
 */
import type { MessagePart } from '@lap/sandbox-protocol';
import type { Logger } from 'pino';
import {
  promptText,
  type AgentHealth,
  type ApiHarnessAdapter,
  type EventSink,
  type TurnContext,
} from './adapter';

let sdk: Promise<typeof import('@anthropic-ai/claude-agent-sdk')> | null = null;

/**
 * The SDK (ESM, a large module: 0.3-0.7 s to load here): loaded once. main.ts starts loading it
 * while the boot waits for the vault, so the harness is not slower for it.
 */
export function loadClaudeAgentSdk(): Promise<typeof import('@anthropic-ai/claude-agent-sdk')> {
  sdk ??= import('@anthropic-ai/claude-agent-sdk');
  return sdk;
}

export interface ClaudeAgentSdkAdapterOptions {
  cwd: string;
  env: Record<string, string>;
  model: string;
  prompt: string;
  litellmApiBase: string;
  logger: Logger;
}

export class ClaudeAgentSdkAdapter implements ApiHarnessAdapter {
  readonly kind = 'api';
  /** The SDK's session id: set by the first turn, resumed by the next. */
  private sessionId: string | null = null;
  /** The query in flight: its Claude Code process reads its input from a pipe of ours, so it
   *  also ends when the harness dies (stdin EOF); on a stop it is aborted. */
  private running: AbortController | null = null;

  constructor(private readonly options: ClaudeAgentSdkAdapterOptions) {}

  // Each turn is a process of its own, started by query() and gone with the turn: there is no
  // long-lived agent process to watch, so the agent is ready once the SDK loads.
  health(): AgentHealth {
    return { state: 'ready' };
  }

  conversationId(): string | null {
    return this.sessionId;
  }

  busy(): boolean {
    return false;
  }

  abort(): void {
    // Only POST /turn starts turns here; its signal aborts them.
  }

  async start(_emit: EventSink): Promise<void> {
    // Loaded before the first turn, so a broken install fails the boot instead.
    await loadClaudeAgentSdk();
  }

  async turn(parts: MessagePart[], context: TurnContext): Promise<MessagePart[]> {
    const { query } = await loadClaudeAgentSdk();
    const abortController = new AbortController();
    this.running = abortController;
    context.signal.addEventListener('abort', () => abortController.abort(), { once: true });
    const gatewayKey = this.options.env.LITELLM_API_KEY ?? '';
    const out: MessagePart[] = [];
    const messages = query({
      prompt: promptText(parts),
      options: {
        cwd: this.options.cwd,
        model: this.options.model,
        ...(this.options.prompt ? { systemPrompt: this.options.prompt } : {}),
        ...(this.sessionId ? { resume: this.sessionId } : {}),
        abortController,
        permissionMode: 'bypassPermissions',
        env: {
          ...this.options.env,
          ANTHROPIC_BASE_URL: this.options.litellmApiBase.replace(/\/+$/, ''),
          ANTHROPIC_API_KEY: gatewayKey,
          ANTHROPIC_AUTH_TOKEN: gatewayKey,
          // The CLI refuses bypassPermissions as root unless told it is sandboxed (it is: local
          // mode may run as root; the images run as a non-root user anyway).
          IS_SANDBOX: '1',
        },
      },
    });
    try {
      for await (const message of messages) {
        if (message.type === 'system' && 'session_id' in message) this.sessionId = message.session_id;
        if (message.type === 'assistant') {
          for (const block of message.message.content) {
            if (block.type === 'text') {
              out.push({ type: 'text', text: block.text });
              context.emit({ type: 'token', turn_id: context.turnId, text: block.text });
            } else if (block.type === 'tool_use') {
              out.push({ type: 'tool', name: block.name, input: block.input });
              context.emit({
                type: 'tool_call',
                turn_id: context.turnId,
                name: block.name,
                input: block.input,
              });
            }
          }
        }
        if (message.type === 'result') {
          this.sessionId = message.session_id;
          if (message.subtype !== 'success') {
            throw new Error(`the agent failed: ${message.subtype}`);
          }
        }
      }
    } finally {
      if (this.running === abortController) this.running = null;
    }
    return out;
  }

  async stop(): Promise<void> {
    this.running?.abort();
    this.options.logger.info({ event: 'claude_agent_sdk_stopped' });
  }
}
