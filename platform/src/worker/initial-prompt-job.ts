/**
 * The `deliver_initial_prompt` job: once a session is ready, its initial_prompt is
 * sent as the first turn (through the same ordered, deadline-bound turns as any
 * message) and the reply stored in `response`. One attempt only: a turn has side
 * effects (the agent may have edited files), so it is never replayed.
 */
import type pg from 'pg';
import { getSession, recordResponse } from '../db/sessions';
import { HarnessTurnError } from '../harness/client';
import type { JobHandler } from '../jobs/job-runner';
import type { Logger } from '../logger';
import { HarnessLostError, TurnTimeoutError, type Turns } from '../sessions/turns';

export function initialPromptHandler(deps: { db: pg.Pool; turns: Turns; log: Logger }): JobHandler {
  return {
    async run(job, ctx) {
      const session = await getSession(deps.db, job.session_id!);
      if (!session || session.status !== 'ready' || !session.initial_prompt || !session.sandbox_url) return;
      try {
        await deps.turns.run(session, [{ type: 'text', text: session.initial_prompt }], ctx.signal);
      } catch (err) {
        if (
          err instanceof HarnessTurnError ||
          err instanceof TurnTimeoutError ||
          err instanceof HarnessLostError
        ) {
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
