/**
 * The web service's calls to a worker over the worker's internal listener (INTERNAL_PORT,
 * `WORKER_INTERNAL_URL`; the routes are api/routes/worker-calls.ts): hand a session with
 * per-session env vars to a worker, which creates it and owns its bring-up; poke the job
 * runners after queueing a job; read a session's sandbox log lines (diagnose), which only
 * the worker role may read. The warm-pool function pokes too.
 */
import { signWorkerCall } from './call-token';

/** Paths on the internal listener (under the `/api/v1` prefix). */
export const WORKER_ROUTES = {
  handOff: '/internal/worker/sessions',
  poke: '/internal/worker/poke',
  logs: '/internal/worker/sessions/:id/logs',
} as const;

const PREFIX = '/api/v1';

/** A session with its own env vars, handed to a worker. The values travel only as `sealed_env`. */
export interface SessionHandOff {
  session_id: string;
  agent_id: string;
  title: string | null;
  initial_prompt: string | null;
  /** `sealSessionEnv` of the values and their bindings, for this session id. */
  sealed_env: string;
}

/** No worker answered (after the retries), or it answered 5xx. */
export class WorkerUnavailableError extends Error {}

/** A worker answered, and refused (4xx): `status` and its `{ error }`. */
export class WorkerRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface WorkerLinkOptions {
  /** WORKER_INTERNAL_URL, e.g. http://worker.lap-dev.internal:3001 */
  baseUrl: string;
  /** HARNESS_TOKEN_SIGNING_KEY; without it only pokes (which need none) can be sent. */
  signingKey?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts of a hand-off while no worker answers (each may reach another worker by DNS). */
  attempts?: number;
}

const RETRY_DELAYS_MS = [250, 1000, 2000];

export class WorkerLink {
  private readonly baseUrl: string;

  constructor(private readonly options: WorkerLinkOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** Resolves once a worker created the session and owns its bring-up. */
  async handOffSession(handOff: SessionHandOff): Promise<void> {
    const attempts = this.options.attempts ?? 3;
    let last = 'no attempt';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await delay(RETRY_DELAYS_MS[Math.min(attempt - 1, RETRY_DELAYS_MS.length - 1)]!);
      try {
        const res = await this.call('POST', WORKER_ROUTES.handOff, JSON.stringify(handOff));
        if (res.status === 201) return;
        const message = await errorOf(res);
        if (res.status < 500) throw new WorkerRefusedError(res.status, message);
        last = `${res.status} ${message}`; // draining, or failing: another worker may take it
      } catch (error) {
        if (error instanceof WorkerRefusedError) throw error;
        last = describe(error);
      }
    }
    throw new WorkerUnavailableError(`no worker took the session (${last})`);
  }

  /** Best effort: a worker in idle back-off looks for jobs now. Never throws. */
  async poke(): Promise<boolean> {
    try {
      const res = await this.call('POST', WORKER_ROUTES.poke, '', false);
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** The session's sandbox log lines, newest last, as the worker reads them. */
  async recentLogs(sessionId: string, limit: number): Promise<string[]> {
    const res = await this.call(
      'GET',
      `${WORKER_ROUTES.logs.replace(':id', encodeURIComponent(sessionId))}?limit=${limit}`,
      '',
    );
    if (!res.ok) throw new Error(`the worker answered ${res.status}: ${await errorOf(res)}`);
    return ((await res.json()) as { lines: string[] }).lines;
  }

  private call(method: string, route: string, body: string, signed = true): Promise<Response> {
    const path = `${PREFIX}${route}`;
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = 'application/json';
    if (signed) {
      if (!this.options.signingKey) throw new Error('a signed worker call needs the signing key');
      headers.authorization = `Bearer ${signWorkerCall(this.options.signingKey, { method, path, body })}`;
    }
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body || undefined,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
  }
}

async function errorOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    return String((JSON.parse(text) as { error?: unknown }).error ?? text);
  } catch {
    return text.slice(0, 200) || res.statusText;
  }
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.message ?? String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
