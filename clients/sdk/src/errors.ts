/** Base class of every error the SDK throws on purpose. */
export class LapError extends Error {
  override name = 'LapError';
}

/**
 * The platform answered with a non-2xx status. `detail` is the server's `error` text;
 * `message` reads `<METHOD> <path> → <status> <detail>`, as the upstream SDK's errors do
 * (code that matches `/404/` on it keeps working).
 */
export class LapApiError extends LapError {
  override name = 'LapApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly method: string,
    readonly path: string,
    /** The decoded response body (usually `{ error }`), for anything beyond the message. */
    readonly body: unknown,
  ) {
    super(`${method} ${path} → ${status} ${detail}`);
  }
}

/** The platform could not be reached at all (DNS, refused connection, TLS, reset). */
export class LapConnectionError extends LapError {
  override name = 'LapConnectionError';
  constructor(
    readonly baseUrl: string,
    options: { cause: unknown },
  ) {
    super(`cannot reach the platform at ${baseUrl}: ${describeCause(options.cause)}`, options);
  }
}

/** A session ended in `failed` (or died) before it became ready. */
export class SessionFailedError extends LapError {
  override name = 'SessionFailedError';
  constructor(
    readonly sessionId: string,
    readonly status: string,
    /** The platform's `failure_reason`, when it gave one. */
    readonly failureReason: string | null,
  ) {
    super(`session ${sessionId} ${status}: ${failureReason ?? 'no reason given'}`);
  }
}

/** A session was still not ready when the caller's timeout expired. The session keeps booting. */
export class SessionTimeoutError extends LapError {
  override name = 'SessionTimeoutError';
  constructor(
    readonly sessionId: string,
    readonly timeoutMs: number,
    /** The bring-up phase it was in, or what it was still waiting for. */
    readonly lastPhase: string | null,
  ) {
    super(
      `session ${sessionId} was not ready after ${timeoutMs} ms (waiting for: ${lastPhase ?? 'unknown'})`,
    );
  }
}

function describeCause(cause: unknown): string {
  // undici wraps the socket error: fetch failed -> cause { code: 'ECONNREFUSED', ... }
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  if (inner instanceof Error) {
    const code = (inner as Error & { code?: unknown }).code;
    return typeof code === 'string' && !inner.message.includes(code)
      ? `${code} ${inner.message}`
      : inner.message;
  }
  return String(inner);
}
