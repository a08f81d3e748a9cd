import { Agent, Session, type ConnectionOptions } from '@litellm/agent-sdk';
import { findAgent } from '../agent-lookup.js';
import { waitForSandbox } from '../boot-progress.js';
import { runChatRepl } from '../chat-repl.js';
import { CliError } from '../cli-error.js';
import { attachTerminal } from '../tty-attach.js';

/** `lap run <agent>`: a new session, the boot spinner, then the REPL or the terminal. */
export async function runAgent(
  connection: ConnectionOptions,
  nameOrId: string,
  flags: { prompt?: string },
): Promise<void> {
  const agent = await findAgent(connection, nameOrId);
  console.log(`✓ agent ${agent.name ?? agent.id} (${agent.id.slice(0, 8)}, harness=${agent.harnessId})`);
  const session = await agent.createSession({ waitUntilReady: false });
  console.log(`✓ session ${session.id}`);
  await waitForSandbox(session);
  await enterSession(connection, agent, session, flags.prompt);
}

/** `lap sessions attach <id>`: back into a running (or still booting) session. */
export async function attachSession(connection: ConnectionOptions, sessionId: string): Promise<void> {
  const session = await Session.get(connection, sessionId);
  if (session.status === 'creating') await waitForSandbox(session);
  if (session.status !== 'ready') {
    throw new CliError(
      `session ${session.id} is ${session.status}${session.failureReason ? `: ${session.failureReason}` : ''}`,
    );
  }
  const agent = await Agent.get(connection, session.agentId);
  console.log(
    `✓ attached to session ${session.id} (agent ${agent.name ?? agent.id}, harness=${agent.harnessId})`,
  );
  await enterSession(connection, agent, session);
}

async function enterSession(connection: ConnectionOptions, agent: Agent, session: Session, prompt?: string) {
  if (session.supportsTui ?? (agent.supportsTui || session.ttyUrl !== null)) {
    await attachTerminal(session, { firstInput: prompt });
  } else await runChatRepl(connection, session, { firstPrompt: prompt });
}
