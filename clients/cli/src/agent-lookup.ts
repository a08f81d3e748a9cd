import { Agent, LapApiError, type ConnectionOptions } from '@litellm/agent-sdk';
import { CliError } from './cli-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds an agent by id or by exact name (names are what people remember). */
export async function findAgent(connection: ConnectionOptions, nameOrId: string): Promise<Agent> {
  if (UUID.test(nameOrId)) {
    try {
      return await Agent.get(connection, nameOrId);
    } catch (error) {
      if (!(error instanceof LapApiError && error.status === 404)) throw error;
    }
  }
  const matches = (await Agent.list(connection, { search: nameOrId, limit: 200 })).data.filter(
    (agent) => agent.name === nameOrId || agent.id === nameOrId,
  );
  if (matches.length === 0) throw new CliError(`no agent named '${nameOrId}' (see \`lap agents list\`)`);
  if (matches.length > 1) {
    throw new CliError(
      `${matches.length} agents are named '${nameOrId}': use an id (${matches.map((a) => a.id).join(', ')})`,
    );
  }
  return matches[0];
}
