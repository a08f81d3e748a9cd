/**
 * Calls the platform makes to a sandbox's harness (sandbox/protocol): health, turns,
 * abort, the event stream, the opencode passthrough and the terminal (/tty). No decisions here: what a
 * failure means for the session is decided by the caller (sessions/turns.ts).
 */
import { request, type Dispatcher } from 'undici';
import { WebSocket, type RawData } from 'ws';
import type { z } from 'zod';
import {
  harnessHealthSchema,
  TUI_HARNESS_IDS,
  turnResponseSchema,
  type MessagePart,
  type TurnResponse,
} from '@lap/sandbox-protocol';

/** The harness answered with an error: 502 to the caller, the session stays. */
export class HarnessTurnError extends Error {}

/** The harness is still busy with another turn (it answers 409): wait and send again. */
export class HarnessBusyError extends HarnessTurnError {}

/** The harness could not be reached, or the connection broke mid-request: alive or dead is for a probe to tell. */
export class HarnessUnreachableError extends Error {}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'EPIPE',
]);

function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return UNREACHABLE.has(e.code ?? '') || UNREACHABLE.has(e.cause?.code ?? '');
}

/**
 * What GET /health says that the platform acts on, checked with the protocol's schema (the
 * fields it does not read are not required of the reply). `busy` and `harness_session_id` may
 * be missing: an agent may pin a harness image built before contract 7.
 */
const healthReplySchema = harnessHealthSchema
  .pick({ status: true, harness_session_id: true, busy: true, reason: true })
  .partial({ busy: true, harness_session_id: true });

/**
 * The harness answers 200 `ok`/`starting`, or 503 `{ status: "dead", reason }` once its agent
 * process died for good (contract 7). Anything else is no harness answering.
 */
export type HealthProbe =
  | { state: 'answering'; health: z.infer<typeof healthReplySchema> }
  | { state: 'dead'; reason: string }
  | { state: 'silent' };

/** GET /health of a harness, bounded by `timeoutMs`. */
export async function probeHealth(harnessUrl: string, timeoutMs: number): Promise<HealthProbe> {
  try {
    const res = await request(new URL('/health', harnessUrl), {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: judged by the status code alone
    }
    const dead = healthReplySchema.pick({ status: true, reason: true }).safeParse(body);
    if (res.statusCode === 503 && dead.success && dead.data.status === 'dead')
      return { state: 'dead', reason: dead.data.reason ?? 'the agent process died' };
    const health = healthReplySchema.safeParse(body);
    if (res.statusCode !== 200 || !health.success) return { state: 'silent' };
    return { state: 'answering', health: health.data };
  } catch {
    return { state: 'silent' };
  }
}

/** GET /health; null when it does not answer `200` (bring-up and diagnose only need that). */
export async function probeHarness(harnessUrl: string, timeoutMs: number) {
  const probe = await probeHealth(harnessUrl, timeoutMs);
  return probe.state === 'answering' ? probe.health : null;
}

/** One synchronous turn; bounded only by `signal` (the caller's deadline and its client). */
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
    if (signal?.aborted) throw err;
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness unreachable: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness request failed: ${(err as Error).message}`);
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    if (signal?.aborted) throw err;
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness connection lost: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness reply failed: ${(err as Error).message}`);
  }
  if (res.statusCode === 409) throw new HarnessBusyError('another turn is still running in this session');
  if (res.statusCode !== 200)
    throw new HarnessTurnError(`harness answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    // reported below with any other reply that is not a TurnResponse
  }
  const parsed = turnResponseSchema.safeParse(reply);
  if (!parsed.success) throw new HarnessTurnError('harness reply is not a {parts} JSON object');
  return { parts: parsed.data.parts };
}

/** POST /abort: stops the harness's turn in flight, if any. Best effort, bounded. */
export async function abortTurn(harnessUrl: string, token: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await request(new URL('/abort', harnessUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return res.statusCode < 300;
  } catch {
    return false;
  }
}

/**
 * Opens the harness's SSE stream; the caller reads the body and aborts `signal` when
 * done. `lastEventId` asks the harness to replay what it kept after that event.
 */
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

/**
 * One request to the harness's `/opencode/*` (its opencode server, contract 7):
 * method, path, query and body as given, the answer streamed back.
 */
export async function opencodeRequest(
  harnessUrl: string,
  token: string,
  input: {
    method: string;
    pathAndQuery: string;
    headers: Record<string, string>;
    body: Buffer | undefined;
    signal: AbortSignal;
  },
): Promise<Dispatcher.ResponseData> {
  try {
    return await request(new URL(`/opencode/${input.pathAndQuery.replace(/^\/+/, '')}`, harnessUrl), {
      method: input.method as Dispatcher.HttpMethod,
      headers: { ...input.headers, authorization: `Bearer ${token}` },
      body: input.body,
      headersTimeout: 0,
      bodyTimeout: 0,
      signal: input.signal,
    });
  } catch (err) {
    if (input.signal.aborted) throw err;
    if (isConnectionFailure(err))
      throw new HarnessUnreachableError(`harness unreachable: ${(err as Error).message}`);
    throw new HarnessTurnError(`harness request failed: ${(err as Error).message}`);
  }
}

/** Whether the harness serves a terminal (TUI) the platform relays at /sessions/{id}/tty. */
export function supportsTui(harnessId: string): boolean {
  return (TUI_HARNESS_IDS as readonly string[]).includes(harnessId);
}

/**
 * The harness's own terminal address for TUI harnesses (kept on the session row; private to
 * the platform: clients attach through the platform's /sessions/{id}/tty).
 */
export function ttyUrlFor(supportsTui: boolean, harnessUrl: string): string | null {
  return supportsTui ? `${harnessUrl.replace(/^http/, 'ws')}/tty` : null;
}

/** The largest frame taken from a harness's terminal (its scrollback replay is 64 KiB). */
const TERMINAL_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** An open terminal to a harness, paused until its caller is ready to pass frames on. */
export interface HarnessTerminal {
  socket: WebSocket;
  /**
   * The frames that arrived before the caller listened (pause() does not hold back frames
   * already read), in order; from this call on the caller's own listener gets them.
   */
  takeEarly(): Array<{ data: RawData; isBinary: boolean }>;
}

/**
 * Opens the harness's `/tty` WebSocket with the harness token and resolves once it is open,
 * paused: the caller takes the early frames, listens, then resumes the socket.
 */
export function openTerminal(
  harnessUrl: string,
  token: string,
  signal: AbortSignal,
  timeoutMs = 10_000,
): Promise<HarnessTerminal> {
  const url = new URL('/tty', harnessUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      maxPayload: TERMINAL_MAX_FRAME_BYTES,
    });
    const early: Array<{ data: RawData; isBinary: boolean }> = [];
    const keep = (data: RawData, isBinary: boolean) => early.push({ data, isBinary });
    const onAbort = () => socket.terminate();
    const onError = (err: Error) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(signal.reason);
      else if (isConnectionFailure(err))
        reject(new HarnessUnreachableError(`harness unreachable: ${err.message}`));
      else reject(new HarnessTurnError(`harness terminal refused: ${err.message}`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('message', keep);
    socket.once('error', onError);
    socket.once('open', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      // From here a failure shows as 'close' (ws emits it after every 'error').
      socket.on('error', () => undefined);
      socket.pause();
      resolve({
        socket,
        takeEarly: () => {
          socket.off('message', keep);
          return early.splice(0);
        },
      });
    });
  });
}
