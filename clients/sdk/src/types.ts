/** camelCase shapes of the API's objects (the wire is snake_case; see wire-format.ts). */

export type HarnessId = 'opencode' | 'claude-agent-sdk' | 'claude-code' | 'codex';

/** A harness id this SDK knows, or any other the platform accepts (validated server-side). */
export type HarnessIdInput = HarnessId | (string & {});

export type SessionStatus = 'creating' | 'ready' | 'dead' | 'failed';

export type MessagePart = { type: 'text'; text: string } | { type: string; [key: string]: unknown };

export interface SandboxFileSpec {
  name: string;
  sandboxPath: string;
  /** base64 */
  content: string;
  contentType?: string;
  size?: number;
}

/** Env var name -> host patterns the credential may be sent to (the vault swaps it only there). */
export type EnvVarHosts = Record<string, string[]>;

export interface AgentData {
  id: string;
  name: string | null;
  model: string;
  /** Free text naming the template the agent was made from; '' when it has none. */
  templateId: string;
  prompt: string | null;
  harnessId: HarnessId;
  supportsTui: boolean;
  repoUrl: string | null;
  branch: string;
  mcpServers: string[];
  /** Keys only: the platform returns every value as "<redacted>". */
  envVars: Record<string, string>;
  /** Set by platforms with credential bindings. */
  envVarHosts?: EnvVarHosts;
  /** Env vars bound to no host (the vault never sends them anywhere); set by platforms with bindings. */
  unboundEnvVars?: string[];
  attachedSkillIds: string[];
  allowOut: string[];
  denyOut: string[];
  sandboxFiles: SandboxFileSpec[];
  pfpUrl: string | null;
  createdAt: string;
}

export interface CreateAgentInput {
  model: string;
  name?: string;
  /** Free text kept on the agent (`template_id`); also its name when `name` is not given. */
  templateId?: string;
  prompt?: string;
  harnessId?: HarnessIdInput;
  repoUrl?: string;
  branch?: string;
  requirements?: string;
  mcpServers?: string[];
  envVars?: Record<string, string>;
  envVarHosts?: EnvVarHosts;
  skillIds?: string[];
  allowOut?: string[];
  denyOut?: string[];
  sandboxFiles?: SandboxFileSpec[];
  pfpUrl?: string;
  /** Accepted for compatibility with the upstream SDK; sent as `tools` (platforms may ignore it). */
  tools?: unknown[];
  /** Gateway override the harness uses for completions (sent as `litellm_api_key`). */
  litellmApiKey?: string;
  /** Gateway override the harness uses for completions (sent as `litellm_api_base`). */
  litellmApiBase?: string;
}

export interface UpdateAgentInput {
  name?: string;
  prompt?: string;
  model?: string;
  branch?: string;
  pfpUrl?: string;
  mcpServers?: string[];
  /** Replaces the whole map. */
  envVars?: Record<string, string>;
  /** Replaces the host bindings. */
  envVarHosts?: EnvVarHosts;
  harnessImage?: string;
  allowOut?: string[];
  denyOut?: string[];
}

export interface ListAgentsQuery {
  limit?: number;
  offset?: number;
  search?: string;
  sort?: 'created_at' | 'name' | 'harness_id' | 'sessions';
  order?: 'asc' | 'desc';
}

export interface ListQuery {
  limit?: number;
  offset?: number;
}

export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * One agent turn's answer: the platform's body (`parts`, and whatever else it sends)
 * plus `text`, the text parts joined.
 */
export type Reply = { parts: MessagePart[]; text: string; [key: string]: unknown };

/** A session's latest reply as the platform stores it. */
export type SessionResponse = { parts: MessagePart[]; [key: string]: unknown };

/**
 * The session fields every LAP platform returns (the upstream SDK's `SessionSnapshot`).
 * `SessionData` is what this platform returns.
 */
export interface SessionSnapshot {
  id: string;
  agentId: string;
  status: string;
  sandboxUrl?: string;
  taskArn?: string;
  response?: Record<string, unknown>;
  createdAt?: string;
}

export interface SessionData {
  id: string;
  agentId: string;
  title: string | null;
  status: SessionStatus;
  phase: string | null;
  phaseDetail: string | null;
  /** Absent: the platform keeps the sandbox's address private (a field of the upstream SDK). */
  sandboxUrl?: string;
  /** TUI sessions, creating or ready: the terminal's WebSocket URL (see `session.terminalConnection()`). */
  ttyUrl: string | null;
  /** With `ttyUrl`: a token that opens this terminal only, for a few minutes (clients that cannot send headers). */
  ttyToken: string | null;
  /** The latest reply, e.g. to `initialPrompt`; absent before the first one. */
  response?: SessionResponse;
  lastSeenAt: string | null;
  idleTimeoutMs: number;
  failureReason: string | null;
  createdAt: string;
  /** Null: the sandbox's task is for operators (`GET /sessions/{id}/diagnose`). */
  taskArn: string | null;
  /** The harness's own conversation id (opencode: its session id), once the harness reported it. */
  harnessSessionId?: string | null;
  /** Whether the session is a terminal (TUI harness) rather than a JSON message API. */
  supportsTui?: boolean;
  /** Set on items of `Session.list()`. */
  agentName?: string | null;
  /** Set on items of `Session.list()`. */
  harnessId?: HarnessId;
}

/** One event of the harness inside the sandbox (camelCased `HarnessEvent` of the sandbox protocol). */
export type HarnessEvent =
  | { type: 'turn_started'; turnId: string }
  | { type: 'token'; turnId: string; text: string }
  | { type: 'tool_call'; turnId: string; name: string; input?: unknown }
  | { type: 'tool_result'; turnId: string; name: string; output?: unknown }
  | { type: 'turn_done'; turnId: string; parts: MessagePart[] }
  | { type: 'error'; turnId?: string; message: string };

/**
 * One event of `session.events()` (GET /sessions/{id}/events), in the upstream vocabulary:
 * `ready` once connected, `harness_event` for each event of the session's harness, `done`
 * when the session is idle (the stream then ends), `error` when the platform gave up.
 * Any other field the platform adds is kept.
 */
export type SessionEvent = (
  | { type: 'ready' }
  | { type: 'harness_event'; event: HarnessEvent }
  | { type: 'done' }
  | { type: 'error'; message: string }
) & { [key: string]: unknown };

/** One event of `session.watch()`: a harness event with its stream position. */
export type WatchedEvent = HarnessEvent & { id?: string };

export interface SkillData {
  id: string;
  name: string;
  description: string | null;
  content: string;
  createdAt: string;
}

export interface CreateSkillInput {
  name: string;
  content: string;
  description?: string;
}

export type AttachSkillInput =
  { skillId: string } | { content: string; name?: string; description?: string; saveToLibrary?: boolean };

export interface MemoryData {
  id: string;
  agentId: string;
  text: string;
  tags: string[];
  type: string | null;
  priority: number;
  source: 'agent' | 'slack' | 'ui';
  disabled: boolean;
  timesApplied: number;
  lastAppliedAt: string | null;
  createdAt: string;
}

export interface CreateMemoryInput {
  text: string;
  tags?: string[];
  type?: string;
  priority?: number;
  source?: 'agent' | 'slack' | 'ui';
}

export interface UpdateMemoryInput {
  text?: string;
  tags?: string[];
  type?: string;
  priority?: number;
  disabled?: boolean;
}
