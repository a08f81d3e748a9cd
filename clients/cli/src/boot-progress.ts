import type { Session } from '@litellm/agent-sdk';
import ora from 'ora';

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
  try {
    await session.waitUntilReady({
      onProgress: (current) => {
        if (!interactive && current.phase !== lastPhase) console.error(`  ${current.phase} (${elapsed()})`);
        lastPhase = current.phase;
        spinner.text = describe();
      },
    });
    spinner.succeed(`sandbox ready in ${elapsed()}`);
  } catch (error) {
    spinner.fail(`sandbox did not start (${elapsed()})`);
    throw error;
  } finally {
    clearInterval(ticker);
  }
}
