/** Calls the platform makes to a session's harness (sandbox/protocol): turns and the event stream. */
import { request, type Dispatcher } from 'undici';
import type { MessagePart, TurnResponse } from '@lap/sandbox-protocol';

/** The harness answered with an error: 502 to the caller, the session stays. */
export class HarnessTurnError extends Error {}

/** The harness is still busy with another turn (it answers 409): 409 to the caller, nothing lost. */
export class HarnessBusyError extends HarnessTurnError {}

/** The harness could not be reached at all: the sandbox is gone, the session is dead. */
export class HarnessUnreachableError extends Error {}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'EPIPE',
]);

function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return UNREACHABLE.has(e.code ?? '') || UNREACHABLE.has(e.cause?.code ?? '');
}

/** One synchronous turn. Agent turns take minutes; no timeout here beyond the caller's signal. */
export async function sendTurn(
  harnessUrl: string,
  token: string,
  parts: MessagePart[],
  signal?: AbortSignal,
): Promise<TurnResponse> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(new URL('/turn', harnessUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ parts }),
      headersTimeout: 0,
      bodyTimeout: 0,
      signal,
    });
  } catch (err) {
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness unreachable: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness request failed: ${(err as Error).message}`);
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness connection lost: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness reply failed: ${(err as Error).message}`);
  }
  if (res.statusCode === 409)
    throw new HarnessBusyError(
      `another turn is still running in this session; wait for its reply and send again`,
    );
  if (res.statusCode !== 200)
    throw new HarnessTurnError(`harness answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  try {
    const parsed = JSON.parse(text) as TurnResponse;
    if (!Array.isArray(parsed.parts)) throw new Error('no parts');
    return { parts: parsed.parts };
  } catch {
    throw new HarnessTurnError('harness reply is not a {parts} JSON object');
  }
}

/** Opens the harness's SSE stream; the caller pipes the body and aborts the signal when its client leaves. */
export async function openEventStream(
  harnessUrl: string,
  token: string,
  signal: AbortSignal,
  lastEventId?: string,
): Promise<Dispatcher.ResponseData> {
  try {
    const res = await request(new URL('/events', harnessUrl), {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      headersTimeout: 10_000,
      bodyTimeout: 0,
      signal,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new HarnessTurnError(`harness event stream answered HTTP ${res.statusCode}`);
    }
    return res;
  } catch (err) {
    if (err instanceof HarnessTurnError) throw err;
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness unreachable: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness event stream failed: ${(err as Error).message}`);
  }
}
