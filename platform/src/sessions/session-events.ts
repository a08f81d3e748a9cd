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
import type { HarnessEvent } from '@lap/sandbox-protocol';
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
  const idleNow = async () => open.size === 0 && !(await service.turnsPending(session));

  for await (const item of readSse(body as never)) {
    if (item.kind === 'comment') {
      if (live || item.text !== 'connected') continue;
      // The replay is over: pass on the open turns' events, then say whether the session is idle.
      live = true;
      for (const r of replayed) if (open.has(turnOf(r.event) ?? '')) yield { kind: 'event', ...r };
      const health = await probeHealth(url, 2000);
      const busy = health.state === 'answering' && health.health.busy === true;
      if (!busy && (await idleNow())) yield { kind: 'idle' };
      continue;
    }
    let event: HarnessEvent;
    try {
      event = JSON.parse(item.data) as HarnessEvent;
    } catch {
      continue;
    }
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
    if (isTurnEnd(event) && (await idleNow())) yield { kind: 'idle' };
  }
}
