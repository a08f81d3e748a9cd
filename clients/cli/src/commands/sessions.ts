import { Session, type ConnectionOptions } from '@litellm/agent-sdk';
import { formatAge, renderTable } from '../terminal-table.js';

/** `lap ps`: every session with its agent, status and age. */
export async function listSessions(connection: ConnectionOptions): Promise<void> {
  const sessions = await Session.list(connection, { limit: 200 });
  if (sessions.data.length === 0) {
    console.log('no sessions: start one with `lap run <agent>`');
    return;
  }
  console.log(
    renderTable(
      ['ID', 'AGENT', 'STATUS', 'AGE'],
      sessions.data.map((s) => [s.id, s.agentName ?? s.agentId, s.status, formatAge(s.createdAt)]),
    ),
  );
}

/** `lap sessions rm`: stops the sandbox and deletes the session. */
export async function removeSession(connection: ConnectionOptions, sessionId: string): Promise<void> {
  const session = await Session.get(connection, sessionId);
  await session.delete();
  console.log(`✓ session ${session.id} terminated`);
}
