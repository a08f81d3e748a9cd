#!/usr/bin/env node
import { Command } from 'commander';
import { describeError } from './cli-error.js';
import { createAgent, listAgents, removeAgent, type CreateAgentFlags } from './commands/agents.js';
import { login } from './commands/login.js';
import { attachSession, runAgent } from './commands/run.js';
import { listSessions, removeSession } from './commands/sessions.js';
import { resolveConnection, type SettingsFlags } from './settings.js';

const program = new Command('lap')
  .description('LiteLLM Agent Platform: agents, sessions and a chat REPL in your terminal')
  .version('0.1.0')
  .option('--base-url <url>', 'platform URL (overrides LAP_BASE_URL and ~/.lap/config.json)')
  .option('--api-key <key>', 'platform API key (overrides LAP_API_KEY and ~/.lap/config.json)')
  .showHelpAfterError();

const flags = () => program.opts<SettingsFlags>();
const connection = () => resolveConnection(flags());

program
  .command('login')
  .description('prompt for the platform URL and API key, verify them, save them to ~/.lap/config.json')
  .action(() => login(flags()));

const agents = program.command('agents').description('list, create and delete agents');
agents
  .command('list')
  .alias('ls')
  .description('table of all agents (ID, name, model, harness)')
  .action(() => listAgents(connection()));
agents
  .command('create')
  .description('create an agent')
  .requiredOption('--model <model>', 'LiteLLM model, e.g. anthropic/claude-haiku-4-5')
  .option('--name <name>', 'name to find it by (lap run <name>)')
  .option('--prompt <prompt>', 'system prompt')
  .option('--harness <id>', 'opencode (default), claude-agent-sdk, claude-code or codex')
  .option('--repo <url>', 'git repository cloned into every sandbox')
  .option('--branch <branch>', 'branch to check out (default main)')
  .option('--template <id>', 'template id (used as the name when --name is not given)')
  .option('--env <KEY=VALUE>', 'agent-level secret env var (repeatable)', (value, all: string[] = []) => [
    ...all,
    value,
  ])
  .action((options: CreateAgentFlags) => createAgent(connection(), options));
agents
  .command('rm <agent>')
  .description('delete an agent (by id or name) and stop its sessions')
  .action((agent: string) => removeAgent(connection(), agent));

program
  .command('run <agent>')
  .description('start a session of an agent (name or id), wait for the sandbox, then chat')
  .option('--prompt <text>', 'first message to send once the sandbox is ready')
  .action((agent: string, options: { prompt?: string }) => runAgent(connection(), agent, options));

program
  .command('ps')
  .description('list sessions (ID, agent, status, age)')
  .action(() => listSessions(connection()));

const sessions = program.command('sessions').description('attach to or terminate sessions');
sessions
  .command('attach <id>')
  .description('re-attach to a running session')
  .action((id: string) => attachSession(connection(), id));
sessions
  .command('rm <id>')
  .description('terminate a session')
  .action((id: string) => removeSession(connection(), id));

try {
  await program.parseAsync();
} catch (error) {
  let baseUrl: string | undefined;
  try {
    baseUrl = resolveConnection(flags()).baseUrl;
  } catch {
    baseUrl = undefined;
  }
  console.error(`error: ${describeError(error, baseUrl)}`);
  process.exitCode = 1;
}
// Leftover handles (a resumed stdin, keep-alive sockets) must not keep a finished command alive.
process.exit();
