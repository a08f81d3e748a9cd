import { LapApiError, LapConnectionError, LapError } from './errors.js';
import { fromWire, toWire } from './wire-format.js';

/** Where the control plane is and how to authenticate to it. */
export interface ConnectionOptions {
  /** The platform's API key (MASTER_KEY), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** The platform's URL, e.g. `https://lap.example.com` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Replaces the global fetch (tests, proxies). */
  fetch?: typeof fetch;
}

/**
 * Paths are appended to `baseUrl` as the upstream SDK does (`/v1/...`), so any `baseUrl`
 * that works with it works here (the platform serves `/v1` and `/api/v1` alike).
 */
export const MANAGED_AGENTS_PATH = '/v1/managed_agents';
export const SKILLS_PATH = '/v1/skills';

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Authenticated JSON over HTTP, with the platform's errors turned into typed ones. */
export class Transport {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ConnectionOptions) {
    if (!options.apiKey) throw new LapError('apiKey is required (the platform key, e.g. MASTER_KEY)');
    if (!options.baseUrl)
      throw new LapError('baseUrl is required (the platform URL, e.g. http://127.0.0.1:3000)');
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new LapError(`baseUrl must be an absolute http(s) URL, got '${options.baseUrl}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new LapError(`baseUrl must be an absolute http(s) URL, got '${options.baseUrl}'`);
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  /** A JSON request; resolves to the camelCased body (undefined for 204). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, {
      ...options,
      headers: { accept: 'application/json', ...options.headers },
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return fromWire<T>(JSON.parse(text));
    } catch {
      // A proxy's HTML page with a 200, say: not the platform answering.
      throw new LapApiError(
        response.status,
        `expected JSON from ${method} ${path}, got: ${text.slice(0, 120)}`,
        method,
        path,
        text,
      );
    }
  }

  /** The platform key as a header, for a URL (any scheme) on the platform's own host only, never a third party's. */
  authorizationFor(url: URL): Record<string, string> {
    return url.host === new URL(this.baseUrl).host ? { authorization: `Bearer ${this.apiKey}` } : {};
  }

  /** A request whose body the caller reads (Server-Sent Events). */
  async open(path: string, options: RequestOptions = {}): Promise<Response> {
    return this.send('GET', path, options);
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(toWire(options.body));
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, { method, headers, body, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new LapConnectionError(this.baseUrl, { cause: error });
    }
    if (!response.ok) throw await apiError(response, method, path);
    return response;
  }
}

async function apiError(response: Response, method: string, path: string): Promise<LapApiError> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  let message = text.trim() || response.statusText || `HTTP ${response.status}`;
  try {
    body = JSON.parse(text);
    const error =
      (body as { error?: unknown; message?: unknown }).error ?? (body as { message?: unknown }).message;
    if (typeof error === 'string' && error) message = error;
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the raw text.
  }
  return new LapApiError(response.status, message, method, path, body);
}
