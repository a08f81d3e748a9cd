import type { Session } from '@litellm/agent-sdk';
import ora from 'ora';
import { CliError } from './cli-error.js';

/**
 * Waits for a session to become ready with a spinner showing the bring-up phase and
 * elapsed time. Without a terminal (pipes, CI) it prints one line per phase instead.
 */
export async function waitForSandbox(session: Session): Promise<void> {
  const startedAt = Date.now();
  const interactive = Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
  const describe = () => `waiting for sandbox: ${session.phase ?? session.status} (${elapsed()})`;
  const spinner = ora({ text: describe(), isEnabled: interactive, discardStdin: false });
  spinner.start();
  const ticker = interactive ? setInterval(() => (spinner.text = describe()), 200) : undefined;
  let lastPhase = session.phase;
  // Ctrl-C stops waiting, not the sandbox: say how to come back to it or remove it.
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.once('SIGINT', onInterrupt);
  try {
    await session.waitUntilReady({
      signal: interrupt.signal,
      onProgress: (current) => {
        if (!interactive && current.phase !== lastPhase) console.error(`  ${current.phase} (${elapsed()})`);
        lastPhase = current.phase;
        spinner.text = describe();
      },
    });
    spinner.succeed(`sandbox ready in ${elapsed()}`);
  } catch (error) {
    if (interrupt.signal.aborted) {
      spinner.stop();
      throw new CliError(
        `interrupted; session ${session.id} keeps starting: \`lap sessions attach ${session.id}\` or \`lap sessions rm ${session.id}\``,
      );
    }
    spinner.fail(`sandbox did not start (${elapsed()})`);
    throw error;
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onInterrupt);
  }
}
