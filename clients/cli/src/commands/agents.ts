import { Agent, type ConnectionOptions } from '@litellm/agent-sdk';
import { findAgent } from '../agent-lookup.js';
import { CliError } from '../cli-error.js';
import { renderTable } from '../terminal-table.js';

export async function listAgents(connection: ConnectionOptions): Promise<void> {
  const page = await Agent.list(connection, { limit: 200 });
  if (page.data.length === 0) {
    console.log('no agents yet: create one with `lap agents create --model <model>`');
    return;
  }
  console.log(
    renderTable(
      ['ID', 'NAME', 'MODEL', 'HARNESS', 'TEMPLATE'],
      page.data.map((agent) => [agent.id, agent.name ?? '', agent.model, agent.harnessId, agent.templateId]),
    ),
  );
  if (page.total > page.data.length) console.log(`(${page.data.length} of ${page.total} shown)`);
}

export interface CreateAgentFlags {
  model: string;
  name?: string;
  prompt?: string;
  harness?: string;
  repo?: string;
  branch?: string;
  template?: string;
  env?: string[];
}

export async function createAgent(connection: ConnectionOptions, flags: CreateAgentFlags): Promise<void> {
  const agent = await Agent.create({
    ...connection,
    model: flags.model,
    name: flags.name,
    prompt: flags.prompt,
    harnessId: flags.harness,
    repoUrl: flags.repo,
    branch: flags.branch,
    templateId: flags.template,
    envVars: flags.env ? parseEnvPairs(flags.env) : undefined,
  });
  console.log(`✓ agent ${agent.name ?? agent.id} created`);
  console.log(
    renderTable(
      ['ID', 'NAME', 'MODEL', 'HARNESS', 'TEMPLATE'],
      [[agent.id, agent.name ?? '', agent.model, agent.harnessId, agent.templateId]],
    ),
  );
}

export async function removeAgent(connection: ConnectionOptions, nameOrId: string): Promise<void> {
  const agent = await findAgent(connection, nameOrId);
  await agent.delete();
  console.log(`✓ agent ${agent.name ?? agent.id} deleted (${agent.id})`);
}

/** `--env KEY=VALUE`, repeatable. */
function parseEnvPairs(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator < 1) throw new CliError(`--env expects KEY=VALUE, got '${pair}'`);
    env[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return env;
}
