/**
 * Which warm sandboxes to start in one top-up pass. Pure: the inputs come from the
 * database, the output is inserted by `topUpWarmPool`.
 *
 * The global budget (WARM_POOL_SIZE) is shared by the eligible agents in proportion
 * to their recent activity using the D'Hondt method: seat after seat goes to the agent
 * with the highest `sessions / (seats + 1)` (ties: fewer seats first). That gives the busiest agent the first
 * seat, spreads seats across agents as the budget grows, and yields one ordered list
 * of seats. Walking that list, an agent's k-th seat is already filled when it has k
 * live sandboxes; the first unfilled seats are started, at most `maxProvisioning`
 * per pass and never beyond the free budget (live sandboxes of agents that are no
 * longer eligible still count until they expire).
 */
export interface TopUpInput {
  size: number;
  maxProvisioning: number;
  /** Live warm sandboxes across all agents (provisioning + warm). */
  liveTotal: number;
  agents: Array<{
    agentId: string;
    fingerprint: string;
    recentSessions: number;
    lastSessionAt: Date;
    /** Live warm sandboxes of this agent with its current fingerprint. */
    live: number;
  }>;
}

export interface TopUpSlot {
  agentId: string;
  fingerprint: string;
}

export function planTopUp(input: TopUpInput): TopUpSlot[] {
  const free = Math.max(0, input.size - input.liveTotal);
  const toStart = Math.min(free, Math.max(0, input.maxProvisioning));
  if (toStart === 0 || input.agents.length === 0) return [];
  // Ties go to the most recently active agent, then to the id (deterministic plans).
  const agents = [...input.agents].sort(
    (a, b) =>
      b.recentSessions - a.recentSessions ||
      b.lastSessionAt.getTime() - a.lastSessionAt.getTime() ||
      a.agentId.localeCompare(b.agentId),
  );
  const seats = new Map(agents.map((a) => [a.agentId, 0]));
  const slots: TopUpSlot[] = [];
  for (let seat = 0; seat < input.size && slots.length < toStart; seat++) {
    let best = agents[0]!;
    let bestQuotient = -1;
    for (const agent of agents) {
      const quotient = agent.recentSessions / (seats.get(agent.agentId)! + 1);
      // On a tie the agent holding fewer seats wins: spread before stacking.
      const fewerSeats = seats.get(agent.agentId)! < seats.get(best.agentId)!;
      if (quotient > bestQuotient || (quotient === bestQuotient && fewerSeats)) {
        best = agent;
        bestQuotient = quotient;
      }
    }
    const held = seats.get(best.agentId)! + 1;
    seats.set(best.agentId, held);
    if (held > best.live) slots.push({ agentId: best.agentId, fingerprint: best.fingerprint });
  }
  return slots;
}
