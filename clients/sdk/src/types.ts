/** camelCase shapes of the API's objects (the wire is snake_case; see wire-format.ts). */

export type HarnessId = 'opencode' | 'claude-agent-sdk' | 'claude-code' | 'codex';

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

export interface AgentData {
  id: string;
  name: string | null;
  model: string;
  prompt: string | null;
  harnessId: HarnessId;
  supportsTui: boolean;
  repoUrl: string | null;
  branch: string;
  mcpServers: string[];
  /** Keys only: the platform returns every value as "<redacted>". */
  envVars: Record<string, string>;
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
  prompt?: string;
  harnessId?: HarnessId;
  repoUrl?: string;
  branch?: string;
  requirements?: string;
  mcpServers?: string[];
  envVars?: Record<string, string>;
  skillIds?: string[];
  allowOut?: string[];
  denyOut?: string[];
  sandboxFiles?: SandboxFileSpec[];
  pfpUrl?: string;
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

/** One agent turn's answer. `text` joins the text parts. */
export interface Reply {
  parts: MessagePart[];
  text: string;
}

export interface SessionData {
  id: string;
  agentId: string;
  title: string | null;
  status: SessionStatus;
  phase: string | null;
  phaseDetail: string | null;
  sandboxUrl: string | null;
  ttyUrl: string | null;
  ttyToken: string | null;
  /** The latest reply, e.g. to `initialPrompt`. */
  response: { parts: MessagePart[] } | null;
  lastSeenAt: string | null;
  idleTimeoutMs: number;
  failureReason: string | null;
  createdAt: string;
  taskArn: string | null;
  /** Set on items of `Session.list()`. */
  agentName?: string | null;
  /** Set on items of `Session.list()`. */
  harnessId?: HarnessId;
}

/** One event of a session's stream (GET /sessions/{id}/events), camelCased. */
export type SessionEvent = { id?: string } & (
  | { type: 'turn_started'; turnId: string }
  | { type: 'token'; turnId: string; text: string }
  | { type: 'tool_call'; turnId: string; name: string; input?: unknown }
  | { type: 'tool_result'; turnId: string; name: string; output?: unknown }
  | { type: 'turn_done'; turnId: string; parts: MessagePart[] }
  | { type: 'error'; turnId?: string; message: string }
);

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
