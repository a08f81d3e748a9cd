/** HTTP plumbing shared by the session routes (routes/sessions.ts, routes/opencode.ts). */
import type { FastifyReply } from 'fastify';
import { HarnessTurnError, HarnessUnreachableError } from '../harness/client';
import { SessionGoneError, SessionNotReadyError, TuiHarnessError } from '../sessions/session-service';
import { HarnessLostError, SessionEndedError, TurnTimeoutError } from '../sessions/turns';
import type { SessionWithHarness } from '../db/sessions';
import type { SessionService } from '../sessions/session-service';
import { HttpError, notFound } from './errors';

/** /stream and /opencode/*: how long a creating session is waited for (as upstream). */
export const STREAM_READY_WAIT_MS = 60_000;

/** An AbortSignal that fires when the client goes away before the answer is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort(new Error('client went away'));
  });
  return abort.signal;
}

/** The errors of waiting for a session and running a turn, as HTTP errors. */
export function turnHttpError(err: unknown): unknown {
  if (err instanceof SessionGoneError) return new HttpError(410, err.message);
  if (err instanceof SessionNotReadyError) return new HttpError(504, err.message);
  if (err instanceof TuiHarnessError) return new HttpError(400, err.message);
  if (err instanceof TurnTimeoutError) return new HttpError(504, err.message);
  if (err instanceof SessionEndedError || err instanceof HarnessLostError)
    return new HttpError(502, err.message);
  if (err instanceof HarnessUnreachableError || err instanceof HarnessTurnError)
    return new HttpError(502, err.message);
  return err;
}

/**
 * /stream and /opencode/*, as upstream: the session once ready, waiting up to 60 s;
 * 404 unknown, 410 failed or dead, 504 not ready in time.
 */
export async function readyWithin60s(
  sessions: SessionService,
  id: string,
  gone: AbortSignal,
): Promise<SessionWithHarness> {
  let session: SessionWithHarness | null;
  try {
    session = await sessions.awaitReady(id, gone, STREAM_READY_WAIT_MS);
  } catch (err) {
    if (err instanceof SessionNotReadyError)
      throw new HttpError(504, `session ${id} not ready within ${STREAM_READY_WAIT_MS / 1000}s`);
    throw turnHttpError(err);
  }
  if (!session) throw notFound('session', id);
  return session;
}
