import { Session, type WaitOptions } from './session.js';
import { MANAGED_AGENTS_PATH, Transport, type ConnectionOptions } from './transport.js';
import type {
  AgentData,
  AttachSkillInput,
  CreateAgentInput,
  CreateMemoryInput,
  EnvVarHosts,
  HarnessId,
  ListAgentsQuery,
  MemoryData,
  Page,
  SandboxFileSpec,
  SessionData,
  SkillData,
  UpdateAgentInput,
  UpdateMemoryInput,
} from './types.js';

/** `Agent.create`'s options: where the platform is, and the agent (the upstream SDK's `AgentCreateOptions`). */
export interface CreateAgentOptions extends ConnectionOptions, CreateAgentInput {}

export interface CreateSessionOptions extends WaitOptions {
  /**
   * Sent by the platform once the sandbox is ready. createSession then also waits for
   * its reply (`session.reply`).
   */
  initialPrompt?: string;
  /** Per-session secrets: never persisted by the platform; they override agent values. */
  envVars?: Record<string, string>;
  /** Per-session host bindings of `envVars` (env var name -> hosts it may be sent to). */
  envVarHosts?: EnvVarHosts;
  title?: string;
  /** false: return as soon as the platform accepted the session (status `creating`). */
  waitUntilReady?: boolean;
}

/** A reusable agent blueprint: model, prompt, harness, repo, env vars, skills. */
export class Agent implements AgentData {
  id!: string;
  name!: string | null;
  model!: string;
  templateId!: string;
  prompt!: string | null;
  harnessId!: HarnessId;
  supportsTui!: boolean;
  repoUrl!: string | null;
  branch!: string;
  mcpServers!: string[];
  envVars!: Record<string, string>;
  envVarHosts?: EnvVarHosts;
  unboundEnvVars?: string[];
  attachedSkillIds!: string[];
  allowOut!: string[];
  denyOut!: string[];
  sandboxFiles!: SandboxFileSpec[];
  pfpUrl!: string | null;
  createdAt!: string;

  /** @internal Use `Agent.create()`, `Agent.get()` or `Agent.list()`. */
  constructor(
    private readonly transport: Transport,
    data: AgentData,
  ) {
    this.assign(data);
  }

  static async create(options: CreateAgentOptions): Promise<Agent> {
    const { apiKey, baseUrl, fetch, ...input } = options;
    const transport = new Transport({ apiKey, baseUrl, fetch });
    // The template id also names the agent when no name is given, so `lap run tpl_...` finds it.
    const body: CreateAgentInput = { ...input, name: input.name ?? input.templateId };
    return new Agent(
      transport,
      await transport.request<AgentData>('POST', `${MANAGED_AGENTS_PATH}/agents`, { body }),
    );
  }

  static async get(connection: ConnectionOptions, agentId: string): Promise<Agent> {
    const transport = new Transport(connection);
    return new Agent(transport, await transport.request<AgentData>('GET', agentPath(agentId)));
  }

  static async list(connection: ConnectionOptions, query: ListAgentsQuery = {}): Promise<Page<Agent>> {
    const transport = new Transport(connection);
    const page = await transport.request<Page<AgentData>>('GET', `${MANAGED_AGENTS_PATH}/agents`, {
      query: { ...query },
    });
    return { ...page, data: page.data.map((data) => new Agent(transport, data)) };
  }

  static async delete(connection: ConnectionOptions, agentId: string): Promise<void> {
    await new Transport(connection).request('DELETE', agentPath(agentId));
  }

  /**
   * Opens a session (a fresh sandbox) and, by default, resolves once it is ready.
   * Throws `SessionFailedError` (with the platform's `failureReason`) if bring-up fails.
   */
  async createSession(options: CreateSessionOptions = {}): Promise<Session> {
    const { initialPrompt, envVars, envVarHosts, title, waitUntilReady = true, ...wait } = options;
    const data = await this.transport.request<SessionData>('POST', `${agentPath(this.id)}/session`, {
      body: { title, initialPrompt, envVars, envVarHosts },
      signal: wait.signal,
    });
    const session = new Session(this.transport, data);
    if (!waitUntilReady) return session;
    return session.waitUntilReady({ untilFirstReply: initialPrompt !== undefined, ...wait });
  }

  async getSession(sessionId: string): Promise<Session> {
    return new Session(
      this.transport,
      await this.transport.request<SessionData>(
        'GET',
        `${MANAGED_AGENTS_PATH}/sessions/${encodeURIComponent(sessionId)}`,
      ),
    );
  }

  async refresh(): Promise<this> {
    this.assign(await this.transport.request<AgentData>('GET', agentPath(this.id)));
    return this;
  }

  /** Partial update; applies from the next session. */
  async update(patch: UpdateAgentInput): Promise<this> {
    this.assign(await this.transport.request<AgentData>('PATCH', agentPath(this.id), { body: patch }));
    return this;
  }

  /** Deletes the agent and stops its live sessions. */
  async delete(): Promise<void> {
    await this.transport.request('DELETE', agentPath(this.id));
  }

  /** Attaches a library skill (`{ skillId }`) or inline content; returns the skill when one was created. */
  async attachSkill(input: AttachSkillInput): Promise<SkillData | undefined> {
    const result = await this.transport.request<{ agent: AgentData; skill?: SkillData }>(
      'POST',
      `${agentPath(this.id)}/skill`,
      { body: input },
    );
    this.assign(result.agent);
    return result.skill;
  }

  /** Detaches one skill, or all of them when no id is given. */
  async detachSkill(skillId?: string): Promise<this> {
    const result = await this.transport.request<{ agent: AgentData }>(
      'DELETE',
      `${agentPath(this.id)}/skill`,
      {
        query: { skill_id: skillId },
      },
    );
    this.assign(result.agent);
    return this;
  }

  /** Memories matching a substring (`q`) and/or a tag. */
  async listMemories(query: { q?: string; tag?: string } = {}): Promise<MemoryData[]> {
    const result = await this.transport.request<MemoryData[] | { data: MemoryData[] }>(
      'GET',
      `${agentPath(this.id)}/memory`,
      { query },
    );
    return Array.isArray(result) ? result : result.data;
  }

  async addMemory(input: CreateMemoryInput): Promise<MemoryData> {
    return this.transport.request<MemoryData>('POST', `${agentPath(this.id)}/memory`, { body: input });
  }

  async updateMemory(memoryId: string, patch: UpdateMemoryInput): Promise<MemoryData> {
    return this.transport.request<MemoryData>('PATCH', memoryPath(this.id, memoryId), { body: patch });
  }

  async deleteMemory(memoryId: string): Promise<void> {
    await this.transport.request('DELETE', memoryPath(this.id, memoryId));
  }

  /** The agent's fields without the client. */
  toJSON(): AgentData {
    const { transport: _transport, ...data } = this;
    return data;
  }

  private assign(data: AgentData): void {
    Object.assign(this, data);
    // A string, as in the upstream SDK: '' for agents made without a template (or platforms without the field).
    this.templateId ??= '';
  }
}

function agentPath(agentId: string): string {
  return `${MANAGED_AGENTS_PATH}/agents/${encodeURIComponent(agentId)}`;
}

function memoryPath(agentId: string, memoryId: string): string {
  return `${agentPath(agentId)}/memory/${encodeURIComponent(memoryId)}`;
}
