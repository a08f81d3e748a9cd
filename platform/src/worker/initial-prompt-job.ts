/**
 * The `deliver_initial_prompt` job: once a session is ready, its initial_prompt is
 * sent as the first turn and the reply stored in `response`. One attempt only: a
 * turn has side effects (the agent may have edited files), so it is never replayed.
 */
import type pg from 'pg';
import { getSession, markSessionDead, recordResponse } from '../db/sessions';
import type { SandboxLauncher } from '../sandbox/launcher';
import { harnessToken } from '../sandbox/tokens';
import { HarnessTurnError, HarnessUnreachableError, sendTurn } from './harness-client';
import type { JobHandler } from './job-runner';
import type { Logger } from './logger';

/** The sandbox id a session's tokens derive from: its warm sandbox's when it claimed one. */
export function sandboxIdOf(session: { id: string; warm_sandbox_id: string | null }): string {
  return session.warm_sandbox_id ?? session.id;
}

export function initialPromptHandler(deps: {
  db: pg.Pool;
  launcher: SandboxLauncher;
  signingKey: string;
  log: Logger;
}): JobHandler {
  return {
    async run(job, ctx) {
      const session = await getSession(deps.db, job.session_id!);
      if (!session || session.status !== 'ready' || !session.initial_prompt || !session.sandbox_url) return;
      try {
        const reply = await sendTurn(
          session.sandbox_url,
          harnessToken(deps.signingKey, sandboxIdOf(session)),
          [{ type: 'text', text: session.initial_prompt }],
          ctx.signal,
        );
        await recordResponse(deps.db, session.id, reply);
      } catch (err) {
        if (err instanceof HarnessUnreachableError) {
          const dead = await markSessionDead(deps.db, session.id, err.message);
          if (dead?.sandbox_ref) await deps.launcher.stop(dead.sandbox_ref, 'harness unreachable');
        } else if (err instanceof HarnessTurnError) {
          // Never replayed (see above), so say in `response` why there is no reply:
          // clients waiting for the first reply stop waiting and show the reason.
          await recordResponse(deps.db, session.id, {
            parts: [{ type: 'error', text: `initial prompt failed: ${err.message}` }],
          });
        }
        throw err;
      }
    },
  };
}
