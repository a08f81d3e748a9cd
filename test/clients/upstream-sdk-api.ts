/**
 * TYPE-LEVEL conformance of `@litellm/agent-sdk` to the upstream SDK's public API
 * (BerriAI/litellm-agent-sdk, the revision that matches seed 000; the table is in
 * clients/sdk/README.md). Checked by `npm run typecheck`; nothing here runs.
 *
 * Part 1 states the upstream surface in our own words (`Upstream.*`: export names,
 * signatures, option and return types) and asserts that each of our exports accepts what
 * the upstream one accepts and returns something usable wherever the upstream result is.
 * Part 2 is code written against the upstream API the way its README, tests, examples and
 * CLI use it, compiled against our package. Breaking either is a compile error.
 */
import type { SDKMessage as ClaudeSdkMessage } from '@anthropic-ai/claude-agent-sdk';
import {
  Agent,
  Session,
  createClaudeStream,
  foldSdkMessages,
  type AgentCreateOptions,
  type ClaudeStreamHandle,
  type ClaudeStreamState,
  type ClaudeStreamStatus,
  type ClaudeStreamSubscriber,
  type ClientOptions,
  type CreateClaudeStreamOptions,
  type CreateSessionOptions,
  type FoldedMessage,
  type SDKMessage,
  type SessionEvent,
  type SessionSnapshot,
} from '../../clients/sdk/src/index.js';

// ---------------------------------------------------------------------------
// Part 1: the upstream surface, and our exports against it.
// ---------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-namespace -- one name for the upstream surface */
namespace Upstream {
  export interface ClientOptions {
    apiKey: string;
    baseUrl: string;
    fetch?: typeof fetch;
  }
  export interface AgentCreateOptions extends ClientOptions {
    model: string;
    templateId: string;
    name?: string;
    prompt?: string;
    repoUrl?: string;
    branch?: string;
    tools?: unknown[];
    mcpServers?: string[];
    litellmApiKey?: string;
    litellmApiBase?: string;
    pfpUrl?: string;
    harnessId?: string;
  }
  export interface CreateSessionOptions {
    initialPrompt?: string;
    title?: string;
    envVars?: Record<string, string>;
  }
  export interface SessionSnapshot {
    id: string;
    agentId: string;
    status: string;
    sandboxUrl?: string;
    taskArn?: string;
    response?: Record<string, unknown>;
    createdAt?: string;
  }
  export interface SessionEvent {
    type?: string;
    [key: string]: unknown;
  }
  /** `class Session` (its constructor takes the SDK's private client). */
  export interface Session {
    readonly id: string;
    readonly agentId: string;
    status: string;
    sandboxUrl?: string;
    response?: Record<string, unknown>;
  }
  /** `class Agent` (its constructor takes the SDK's private client). */
  export interface Agent {
    readonly id: string;
    readonly model: string;
    readonly templateId: string;
    readonly name: string | null;
  }
  export interface CreateClaudeStreamOptions extends ClientOptions {
    sessionId: string;
    signal?: AbortSignal;
    onError?: (err: Error) => void;
  }
  export type ClaudeStreamStatus = 'connecting' | 'streaming' | 'idle' | 'aborted' | 'error';
  /** `messages` holds the Claude SDK's `SDKMessage`s; approximated here by what every one has. */
  export interface ClaudeStreamState {
    status: ClaudeStreamStatus;
    error?: string;
    messages: Array<{ type: string }>;
  }
  export type ClaudeStreamSubscriber = (state: ClaudeStreamState) => void;
  export interface ClaudeStreamHandle {
    state(): ClaudeStreamState;
    subscribe(cb: ClaudeStreamSubscriber): () => void;
    abort(): void;
    done(): Promise<void>;
  }
}
/* eslint-enable @typescript-eslint/no-namespace */

type Check<T extends true> = T;
/** `A` can be used wherever `B` is expected. */
type Is<A, B> = [A] extends [B] ? true : false;
/** A function (or method) accepts these argument lists. */
type Accepts<F extends (...args: never[]) => unknown, Args extends unknown[]> = Is<Args, Parameters<F>>;
/** What a function's promise resolves to can be used as `T`. */
type Resolves<F extends (...args: never[]) => unknown, T> = Is<Awaited<ReturnType<F>>, T>;

export type ConformanceChecks = [
  // Types: the upstream names exist and accept the upstream values (options) / give upstream shapes (results).
  Check<Is<Upstream.ClientOptions, ClientOptions>>,
  Check<Is<Upstream.AgentCreateOptions, AgentCreateOptions>>,
  Check<Is<Upstream.CreateSessionOptions, CreateSessionOptions>>,
  Check<Is<SessionSnapshot, Upstream.SessionSnapshot>>,
  Check<Is<Upstream.SessionSnapshot, SessionSnapshot>>,
  Check<Is<SessionEvent, Upstream.SessionEvent>>,
  Check<Is<Upstream.CreateClaudeStreamOptions, CreateClaudeStreamOptions>>,
  Check<Is<ClaudeStreamStatus, Upstream.ClaudeStreamStatus>>,
  Check<Is<Upstream.ClaudeStreamStatus, ClaudeStreamStatus>>,
  Check<Is<ClaudeStreamState, Upstream.ClaudeStreamState>>,
  Check<Is<ClaudeStreamSubscriber, (state: ClaudeStreamState) => void>>,
  Check<Is<ClaudeStreamHandle, Upstream.ClaudeStreamHandle>>,
  Check<Is<SDKMessage, { type: string }>>,
  Check<Is<FoldedMessage, SDKMessage>>,

  // Agent.create(opts: AgentCreateOptions): Promise<Agent>
  Check<Accepts<typeof Agent.create, [Upstream.AgentCreateOptions]>>,
  Check<Resolves<typeof Agent.create, Upstream.Agent>>,
  Check<Is<Agent, Upstream.Agent>>,
  // agent.createSession(opts?: CreateSessionOptions): Promise<Session>
  Check<Accepts<Agent['createSession'], []>>,
  Check<Accepts<Agent['createSession'], [Upstream.CreateSessionOptions]>>,
  Check<Resolves<Agent['createSession'], Upstream.Session>>,
  // agent.getSession(id: string): Promise<Session>
  Check<Accepts<Agent['getSession'], [string]>>,
  Check<Resolves<Agent['getSession'], Upstream.Session>>,

  Check<Is<Session, Upstream.Session>>,
  // session.send(text: string): Promise<Record<string, unknown>>
  Check<Accepts<Session['send'], [string]>>,
  Check<Resolves<Session['send'], Record<string, unknown>>>,
  // session.events(opts?: { signal?: AbortSignal }): AsyncIterable<SessionEvent>
  Check<Accepts<Session['events'], []>>,
  Check<Accepts<Session['events'], [{ signal?: AbortSignal }]>>,
  Check<Is<ReturnType<Session['events']>, AsyncIterable<Upstream.SessionEvent>>>,
  // session.refresh(): Promise<this>
  Check<Accepts<Session['refresh'], []>>,
  Check<Resolves<Session['refresh'], Session>>,

  // createClaudeStream(opts: CreateClaudeStreamOptions): ClaudeStreamHandle
  Check<Accepts<typeof createClaudeStream, [Upstream.CreateClaudeStreamOptions]>>,
  Check<Is<ReturnType<typeof createClaudeStream>, Upstream.ClaudeStreamHandle>>,
  // foldSdkMessages(stream: SDKMessage[]): FoldedMessage[], with the Claude SDK's own messages too
  Check<Accepts<typeof foldSdkMessages, [SDKMessage[]]>>,
  Check<Accepts<typeof foldSdkMessages, [ClaudeSdkMessage[]]>>,
  Check<Is<ReturnType<typeof foldSdkMessages>, Array<{ type: string }>>>,
];

// ---------------------------------------------------------------------------
// Part 2: code written against the upstream API, as its own users write it.
// ---------------------------------------------------------------------------

/** The upstream README (seed 000), with the gateway pair of its "two endpoints" section. */
export async function upstreamReadme(): Promise<void> {
  const agent = await Agent.create({
    apiKey: process.env.LITELLM_AGENT_PLATFORM_KEY!,
    baseUrl: process.env.LITELLM_AGENT_PLATFORM_URL!,
    litellmApiKey: process.env.LITELLM_GATEWAY_KEY,
    litellmApiBase: process.env.LITELLM_GATEWAY_URL,
    model: 'anthropic/claude-haiku-4-5',
    templateId: 'tpl_opencode_my_repo',
    prompt: 'You are a senior reviewer.',
  });
  const session = await agent.createSession({ initialPrompt: 'In one sentence, what is this repo about?' });
  const reply: Record<string, unknown> = await session.send('Now show me the routes file.');
  for await (const ev of session.events()) console.log(ev.type, ev, reply);
  const again: Session = await (await agent.getSession(session.id)).refresh();
  const status: string = again.status;
  const url: string | undefined = again.sandboxUrl;
  const response: Record<string, unknown> | undefined = again.response;
  console.log(status, url, response, agent.templateId.length, agent.name?.length);
}

/** examples/lap-smoke.ts and the roundtrip test: options held in variables typed with the upstream names. */
export async function upstreamSmoke(apiKey: string, baseUrl: string, harness: string): Promise<void> {
  const options: AgentCreateOptions = {
    apiKey,
    baseUrl,
    model: 'anthropic/claude-haiku-4-5',
    templateId: 'tpl_opencode_default',
    name: 'shin-cursor-smoke',
    prompt: 'You are a helpful agent. Reply tersely.',
    harnessId: harness,
    tools: [],
    mcpServers: [],
  };
  const agent = await Agent.create(options);
  const sessionOptions: CreateSessionOptions = {
    initialPrompt: 'ready?',
    title: 'v0 smoke',
    envVars: { A: 'b' },
  };
  const session = await agent.createSession(sessionOptions);
  console.log(
    `session.id=${session.id} status=${session.status} ${JSON.stringify(session.response)?.slice(0, 200)}`,
  );
  const events: SessionEvent[] = [];
  for await (const ev of session.events({ signal: AbortSignal.timeout(1000) })) events.push(ev);
  const snapshot: SessionSnapshot = { id: session.id, agentId: session.agentId, status: session.status };
  const client: ClientOptions = { apiKey, baseUrl, fetch };
  console.log(
    events.map((e) => e.type),
    snapshot,
    client,
  );
}

/** The SDK repository's CLI: its streamed REPL turn and its printer. */
export async function upstreamCliStreaming(
  baseUrl: string,
  apiKey: string,
  sessionId: string,
): Promise<void> {
  type AssistantLike = { type: 'assistant'; message: { content: unknown[] } };
  let lastCount = 0;
  const ac = new AbortController();
  await new Promise<void>((resolve) => {
    const handle = createClaudeStream({ baseUrl, apiKey, sessionId, signal: ac.signal });
    const unsub = handle.subscribe((state) => {
      const folded = foldSdkMessages(state.messages);
      for (const msg of folded.slice(lastCount)) {
        if (msg.type !== 'assistant') continue;
        const content = (msg as unknown as AssistantLike).message?.content;
        if (Array.isArray(content)) process.stdout.write(String(content.length));
      }
      lastCount = folded.length;
      if (state.status === 'idle' || state.status === 'error' || state.status === 'aborted') {
        unsub();
        ac.abort();
        if (state.status === 'error') console.error(`Stream error: ${state.error}`);
        resolve();
      }
    });
  });
  const renderMessages = (messages: SDKMessage[]) =>
    foldSdkMessages(messages).filter((m) => m.type === 'assistant');
  console.log(renderMessages([]).length);
}

/** The upstream tests: createClaudeStream's handle and foldSdkMessages' output as they read them. */
export async function upstreamStreamTests(
  stream: ClaudeStreamHandle,
  claudeMessages: ClaudeSdkMessage[],
): Promise<void> {
  await stream.done();
  const final = stream.state();
  const types: string[] = final.messages.map((m) => m.type);
  const folded = foldSdkMessages(stream.state().messages);
  const text = (folded[0] as { message: { content: { text?: string }[] } }).message.content[0]?.text;
  const fromClaude = foldSdkMessages(claudeMessages);
  const onError: CreateClaudeStreamOptions['onError'] = (err) => console.error(err.message);
  console.log(types, text, fromClaude.length, final.error, onError);
}
