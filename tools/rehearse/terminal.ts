/**
 * The rehearsal's TTY step: `lap run` on a claude-code agent, the CLI (built dist, in a real
 * pseudo-terminal) pointed at the web container's published port as a laptop is pointed at the
 * load balancer, attaches through the platform's /sessions/{id}/tty route to the harness's PTY
 * in the sandbox pod, types a line and must see the program's answer, then detaches (Ctrl-]).
 */
import { HARNESS_TTY_COMMAND_ENV, SANDBOX_CONTAINERS } from '@lap/sandbox-protocol';
import { Agent, type ConnectionOptions } from '../../clients/sdk/src/index.js';
import { buildClients } from '../../test/clients/support/build-clients';
import { CliTerminal } from '../../test/clients/support/cli-terminal';

/**
 * What the claude-code harness runs instead of `claude`, which needs a real model: a line
 * reader in the same PTY, answering each line it gets.
 */
const STAND_IN_CLAUDE = `sh -c 'echo "stand-in claude ready"; while IFS= read -r line; do echo "stand-in got: $line"; done'`;

/** The harness container's environment for the claude-code family (EcsDouble `standIns`). */
export function claudeStandIn(family: string): Record<string, Record<string, Record<string, string>>> {
  return { [family]: { [SANDBOX_CONTAINERS.harness]: { [HARNESS_TTY_COMMAND_ENV]: STAND_IN_CLAUDE } } };
}

export interface TerminalFigures {
  sessionId: string;
  /** `lap run` to "sandbox ready" (session create included). */
  runToReadyMs: number;
  /** "sandbox ready" to the program's first screen through the web service. */
  attachMs: number;
  /** A typed line to the program's answer on screen. */
  echoMs: number;
}

export async function rehearseTerminal(
  connection: ConnectionOptions,
  home: string,
): Promise<TerminalFigures> {
  buildClients();
  const name = 'rehearsal-claude-code';
  await Agent.create({ ...connection, name, model: 'fake-model', harnessId: 'claude-code' });
  const started = Date.now();
  const terminal = new CliTerminal(
    ['run', name],
    { HOME: home, LAP_BASE_URL: connection.baseUrl, LAP_API_KEY: connection.apiKey },
    { cols: 100, rows: 30 },
  );
  try {
    const sessionId = (await terminal.waitFor(/✓ session ([0-9a-f-]{36})/, 60_000))[1];
    await terminal.waitFor(/sandbox ready in \d+\.\ds/, 600_000);
    const readyAt = Date.now();
    await terminal.waitFor('stand-in claude ready', 60_000);
    const attachedAt = Date.now();
    const line = 'typed through the web service';
    terminal.write(`${line}\r`);
    await terminal.waitFor(`stand-in got: ${line}`, 30_000);
    const echoedAt = Date.now();
    terminal.write('\x1d');
    const code = await terminal.exitCode();
    if (code !== 0 || !terminal.text.includes(`detached; session ${sessionId} keeps running`))
      throw new Error(`lap run did not detach cleanly (exit ${code}):\n${terminal.text.slice(-2000)}`);
    return {
      sessionId,
      runToReadyMs: readyAt - started,
      attachMs: attachedAt - readyAt,
      echoMs: echoedAt - attachedAt,
    };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- lap run screen:\n${terminal.text.slice(-3000)}`, {
      cause: error,
    });
  } finally {
    terminal.kill();
  }
}
