/**
 * A session's harness events, with the session's busy/idle state: what the upstream
 * clients' streams (/events, /stream, /message_stream) are built on.
 *
 * Idle means no turn is running at the harness and none is waiting at the platform
 * (queued here, or the initial prompt not yet delivered). At open it is judged from
 * the harness's replay of what it kept (an open turn: events of a turn without its
 * `turn_done`/`error`; those events are passed on, so a late subscriber sees the turn
 * from its start), its /health `busy` (contract 7) and the platform's queue; then
 * after every turn's end.
 */
import { harnessEventSchema, type HarnessEvent } from '@lap/sandbox-protocol';
import type { SessionRow } from '../db/sessions';
import { openEventStream, probeHealth } from '../harness/client';
import { readSse } from '../harness/event-stream';
import { harnessToken, sandboxIdOf } from '../sandbox/tokens';
import type { SessionService } from './session-service';

export type FeedItem = { kind: 'event'; id: string | null; event: HarnessEvent } | { kind: 'idle' };

/** Replay everything the harness kept (its events are numbered from 1). */
const REPLAY_ALL = '0';

function turnOf(event: HarnessEvent): string | undefined {
  return 'turn_id' in event ? event.turn_id : undefined;
}

function isTurnEnd(event: HarnessEvent): boolean {
  return event.type === 'turn_done' || (event.type === 'error' && !!event.turn_id);
}

/**
 * Opens the feed (throws HarnessUnreachableError/HarnessTurnError when the harness
 * event stream cannot be opened). Iterate it until done; abort `signal` to close.
 */
export async function openSessionEvents(
  service: SessionService,
  session: SessionRow,
  signal: AbortSignal,
): Promise<AsyncGenerator<FeedItem>> {
  const url = session.sandbox_url!;
  const token = harnessToken(service.signingKey, sandboxIdOf(session));
  const upstream = await openEventStream(url, token, signal, REPLAY_ALL);
  return feed(service, session, upstream.body, url);
}

/** How often, after a turn ended, the platform looks again whether the turns it had queued are done. */
const IDLE_RECHECK_MS = 200;
const RECHECK = Symbol('recheck');

async function* feed(
  service: SessionService,
  session: SessionRow,
  body: AsyncIterable<unknown> & NodeJS.ReadableStream,
  url: string,
): AsyncGenerator<FeedItem> {
  const open = new Set<string>();
  const ended = new Set<string>();
  const replayed: Array<{ id: string | null; event: HarnessEvent }> = [];
  let live = false;
  // After a turn ended, idle is confirmed once the platform's own bookkeeping of it is done
  // (its caller's turn resolves, the initial prompt job completes): until then, look again.
  let awaitingIdle = false;
  const idleNow = async () => open.size === 0 && !(await service.turnsPending(session));

  const items = readSse(body as never)[Symbol.asyncIterator]();
  // A read still pending when the stream is closed fails with the close: not an error of anyone's.
  const read = () => {
    const pending = items.next();
    pending.catch(() => undefined);
    return pending;
  };
  let next = read();
  for (;;) {
    const winner = awaitingIdle
      ? await Promise.race([
          next,
          new Promise<typeof RECHECK>((r) => setTimeout(() => r(RECHECK), IDLE_RECHECK_MS)),
        ])
      : await next;
    if (winner === RECHECK) {
      if (await idleNow()) {
        awaitingIdle = false;
        yield { kind: 'idle' };
      }
      continue;
    }
    if (winner.done) return;
    next = read();
    const item = winner.value;
    if (item.kind === 'comment') {
      if (live || item.text !== 'connected') continue;
      // The replay is over: pass on the open turns' events, then say whether the session is idle.
      live = true;
      for (const r of replayed) if (open.has(turnOf(r.event) ?? '')) yield { kind: 'event', ...r };
      const health = await probeHealth(url, 2000);
      const busy = health.state === 'answering' && health.health.busy === true;
      if (!busy && (await idleNow())) yield { kind: 'idle' };
      else if (!busy && open.size === 0) awaitingIdle = true;
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(item.data);
    } catch {
      continue;
    }
    // Our vocabulary only: what is not a HarnessEvent is not passed on as one.
    const parsed = harnessEventSchema.safeParse(data);
    if (!parsed.success) continue;
    const event = parsed.data;
    const turn = turnOf(event);
    if (turn && !ended.has(turn)) {
      if (isTurnEnd(event)) {
        open.delete(turn);
        ended.add(turn);
      } else open.add(turn);
    }
    if (!live) {
      replayed.push({ id: item.id, event });
      continue;
    }
    yield { kind: 'event', id: item.id, event };
    if (isTurnEnd(event)) {
      if (await idleNow()) yield { kind: 'idle' };
      else awaitingIdle = open.size === 0;
    } else if (open.size > 0) awaitingIdle = false;
  }
}
