/**
 * What the session service, the sandbox callbacks and diagnose need from the warm
 * pool. `DatabaseWarmPool` (warm-pool.ts) implements it; without one, `noWarmPool`
 * makes every session a cold start.
 */
import type { Queryable } from '../db/pool';

export interface ClaimedWarmSandbox {
  /** The warm sandbox id: the sandbox id its tokens were derived from. */
  id: string;
  sandboxRef: string;
  sandboxUrl: string;
  harnessSessionId: string | null;
  vaultAdminUrl: string | null;
}

export type WarmSandboxStatus = 'provisioning' | 'warm' | 'claimed' | 'dead';

export interface WarmSandboxRef {
  id: string;
  agentId: string;
  status: WarmSandboxStatus;
  sessionId: string | null;
}

export interface WarmPool {
  /**
   * Atomically claims a warm sandbox of this agent (current agent settings only) for
   * the session, inside the caller's transaction `db`. Null when none is available.
   */
  claim(db: Queryable, input: { agentId: string; sessionId: string }): Promise<ClaimedWarmSandbox | null>;
  /** Resolves a warm sandbox id (internal routes); null when it is not one. */
  find(id: string): Promise<WarmSandboxRef | null>;
  /** The harness reported harness_listening: provisioning -> warm. */
  markWarm(id: string): Promise<void>;
  /** The harness reported failed: -> dead (its sandbox is stopped by the pool). */
  markDead(id: string, reason: string): Promise<void>;
  /** Counts by status for one agent (diagnose), and whether the pool is enabled at all. */
  countsForAgent(agentId: string): Promise<{ enabled: boolean; counts: Record<WarmSandboxStatus, number> }>;
}

const NO_COUNTS: Record<WarmSandboxStatus, number> = { provisioning: 0, warm: 0, claimed: 0, dead: 0 };

export const noWarmPool: WarmPool = {
  claim: async () => null,
  find: async () => null,
  markWarm: async () => undefined,
  markDead: async () => undefined,
  countsForAgent: async () => ({ enabled: false, counts: { ...NO_COUNTS } }),
};
