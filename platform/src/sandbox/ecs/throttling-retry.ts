/**
 * ECS rate-limits RunTask and the describe/list calls per account. The SDK's own
 * retries give up within a second or so; a burst of session creates needs a longer
 * budget, so calls are retried on throttling with full-jitter exponential backoff
 * (sleep a random time in [0, min(cap, base * 2^attempt)]), which spreads a burst
 * of callers out instead of having them retry in lockstep. Transient failures (a
 * dropped connection, a timeout, a 5xx) are retried the same way: every call the
 * launcher makes is safe to repeat (RunTask carries a clientToken).
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 10_000 };

const THROTTLING_ERROR_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

export function isThrottlingError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
  };
  return (
    THROTTLING_ERROR_NAMES.has(e.name ?? '') ||
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429
  );
}

const TRANSIENT_ERROR_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServerException',
]);
const TRANSIENT_ERROR_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN']);

/** Throttling, or a failure that says nothing about the request itself. */
export function isRetryableError(error: unknown): boolean {
  if (isThrottlingError(error)) return true;
  if (!error || typeof error !== 'object') return false;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    TRANSIENT_ERROR_NAMES.has(e.name ?? '') ||
    TRANSIENT_ERROR_CODES.has(e.code ?? '') ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

export async function withThrottlingRetry<T>(call: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = policy.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isRetryableError(error) || attempt + 1 >= policy.maxAttempts) throw error;
      await sleep(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
    }
  }
}
