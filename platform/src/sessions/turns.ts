/**
 * Turns: how a message reaches a session's harness and its reply comes back.
 *
 * - In order: the turns of one session run one at a time, in arrival order, in this
 *   process; a harness still busy with a turn sent from elsewhere (it answers 409) is
 *   waited for, not bounced. A turn whose caller left while it waited never starts.
 * - A deadline: every turn gets TURN_TIMEOUT_MS at the harness; then the platform
 *   POSTs /abort and the caller gets TurnTimeoutError. A harness that stays busy
 *   longer than that with someone else's turn gets the same /abort.
 * - Stall or death: a broken connection kills nothing by itself. The harness's
 *   /health is probed for up to HARNESS_STALL_GRACE_MS: a harness that answers keeps
 *   its session (the caller is told to send again), one that reports its agent
 *   process dead (503, contract 7), that stays silent, or whose sandbox stopped, ends
 *   its session with the reason.
 * - The reply is never lost once a turn ran: a started turn is not cancelled because
 *   its caller left, and the reply is stored in a form PostgreSQL always accepts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessagePart, TurnResponse } from '@lap/sandbox-protocol';
import type pg from 'pg';
import { recordResponse, type SessionRow } from '../db/sessions';
import {
  abortTurn,
  HarnessBusyError,
  HarnessTurnError,
  HarnessUnreachableError,
  probeHealth,
  sendTurn,
} from '../harness/client';
import { stoppedReason } from '../lifecycle/sandbox-stopped';
import { noteHarnessSessionId } from '../lifecycle/session-states';
import type { Logger } from '../logger';
import type { SandboxControl } from '../sandbox/launcher';
import { harnessToken, sandboxIdOf } from '../sandbox/tokens';

export interface TurnSettings {
  /** TURN_TIMEOUT_MS: how long one turn may run at the harness. */
  turnTimeoutMs: number;
  /** HARNESS_STALL_GRACE_MS: how long a harness that stopped answering has to answer again. */
  stallGraceMs: number;
  /** How often waits (busy harness, stall probes) look again. */
  pollMs: number;
}

/** The turn ran past TURN_TIMEOUT_MS and was aborted: 504 to the caller. */
export class TurnTimeoutError extends Error {}

/** The connection broke during the turn but the harness answers again: 502, the session stays. */
export class HarnessLostError extends Error {}

/** The session's harness died during the turn: the session is now dead (502 with the reason). */
export class SessionEndedError extends Error {}

export interface TurnsDeps {
  db: pg.Pool;
  launcher: SandboxControl;
  signingKey: string;
  log: Logger;
  settings: TurnSettings;
  /** Ends the session (dead, with the reason) and stops its sandbox. */
  endSession(session: SessionRow, reason: string): Promise<void>;
}

type Verdict = { alive: true } | { alive: false; reason: string };

export class Turns {
  /** Per session: the promise the next turn waits for. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Per session: turns queued or running in this process. */
  private readonly counts = new Map<string, number>();

  constructor(private readonly deps: TurnsDeps) {}

  /** Turns of this session queued or running in this process. */
  pending(sessionId: string): number {
    return this.counts.get(sessionId) ?? 0;
  }

  /**
   * One turn on a ready session, after the turns queued before it here. `signal`
   * (the caller leaving) cancels the wait in the queue, never a started turn.
   */
  async run(session: SessionRow, parts: MessagePart[], signal?: AbortSignal): Promise<TurnResponse> {
    const id = session.id;
    const previous = this.queues.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.queues.set(id, tail);
    this.counts.set(id, this.pending(id) + 1);
    try {
      await abortable(previous, signal);
      return await this.execute(session, parts);
    } finally {
      release();
      const left = this.pending(id) - 1;
      if (left > 0) this.counts.set(id, left);
      else this.counts.delete(id);
      if (this.queues.get(id) === tail) this.queues.delete(id);
    }
  }

  private async execute(session: SessionRow, parts: MessagePart[]): Promise<TurnResponse> {
    const { settings } = this.deps;
    const url = session.sandbox_url!;
    const token = harnessToken(this.deps.signingKey, sandboxIdOf(session));
    let busySince: number | null = null;
    for (;;) {
      const deadline = AbortSignal.timeout(settings.turnTimeoutMs);
      try {
        const reply = await sendTurn(url, token, parts, deadline);
        await this.store(session.id, reply);
        return reply;
      } catch (err) {
        if (deadline.aborted) {
          await abortTurn(url, token);
          this.deps.log.warn(
            { session_id: session.id, timeout_ms: settings.turnTimeoutMs },
            'turn timed out',
          );
          throw new TurnTimeoutError(
            `the turn did not finish within ${settings.turnTimeoutMs / 1000} s (TURN_TIMEOUT_MS) and was aborted; the session stays ready`,
          );
        }
        if (err instanceof HarnessBusyError) {
          busySince ??= Date.now();
          if (Date.now() - busySince > settings.turnTimeoutMs) {
            // Someone else's turn ran past any deadline (its caller is gone): stop it.
            await abortTurn(url, token);
            busySince = Date.now();
          }
          await sleep(settings.pollMs);
          continue;
        }
        if (err instanceof HarnessUnreachableError) {
          const verdict = await this.judge(session, url, settings.stallGraceMs);
          if (verdict.alive)
            throw new HarnessLostError(
              `the connection to the harness broke during the turn (${err.message}); the harness answers again and the session stays ready: the turn may not have finished, send again`,
            );
          await this.deps.endSession(session, verdict.reason);
          throw new SessionEndedError(`${verdict.reason}; the session is now dead`);
        }
        if (err instanceof HarnessTurnError) {
          // The harness answered with an error: a turn error, unless its agent process is gone.
          const verdict = await this.judge(session, url, 0);
          if (!verdict.alive) {
            await this.deps.endSession(session, verdict.reason);
            throw new SessionEndedError(`${verdict.reason}; the session is now dead`);
          }
        }
        throw err;
      }
    }
  }

  /**
   * Alive or dead: the sandbox's state, then /health, probed until `graceMs` has passed.
   * A harness that never answers within the grace is dead (unreachable).
   */
  private async judge(session: SessionRow, url: string, graceMs: number): Promise<Verdict> {
    const until = Date.now() + graceMs;
    for (;;) {
      const state = session.sandbox_ref ? await this.deps.launcher.describe(session.sandbox_ref) : null;
      if (state && (state.lifecycle === 'stopped' || state.lifecycle === 'stopping'))
        return { alive: false, reason: stoppedReason(state) };
      const probe = await probeHealth(url, Math.max(1000, Math.min(3000, until - Date.now())));
      if (probe.state === 'answering') {
        const seen = probe.health.harness_session_id;
        if (seen && seen !== session.harness_session_id)
          await noteHarnessSessionId(this.deps.db, session.id, seen);
        return { alive: true };
      }
      if (probe.state === 'dead')
        return { alive: false, reason: `the harness reports its agent process dead: ${probe.reason}` };
      if (Date.now() >= until) {
        // A quick check (graceMs 0) after an error answer: silence then is no verdict of death.
        if (graceMs === 0) return { alive: true };
        return {
          alive: false,
          reason: `sandbox unreachable: the harness did not answer for ${graceMs / 1000} s`,
        };
      }
      await sleep(this.deps.settings.pollMs);
    }
  }

  /** Stores the reply; a failure to store is logged, never turned into a lost reply. */
  private async store(sessionId: string, reply: TurnResponse): Promise<void> {
    try {
      await recordResponse(this.deps.db, sessionId, reply);
    } catch (err) {
      this.deps.log.error(
        { session_id: sessionId, err: { message: (err as Error).message } },
        'could not store a reply (returned to the caller anyway)',
      );
    }
  }
}

/** Waits for `promise`, or throws the signal's reason when the caller leaves first. */
function abortable(promise: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise.then(() => undefined);
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
