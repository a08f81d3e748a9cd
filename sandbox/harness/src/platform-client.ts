/**
 * The harness's calls to the platform's internal sandbox routes: the boot spec and the
 * phase reports. Direct connections (Node's fetch ignores HTTP(S)_PROXY): the platform
 * is not egress, and the CALLBACK_TOKEN must not pass through the agent's proxy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sandboxBootSpecSchema, type PhaseReport, type SandboxBootSpec } from '@lap/sandbox-protocol';

export class PlatformClient {
  private readonly base: string;

  constructor(
    callbackUrl: string,
    sandboxId: string,
    private readonly token: string,
  ) {
    this.base = `${callbackUrl.replace(/\/+$/, '')}/api/v1/internal/sandboxes/${encodeURIComponent(sandboxId)}`;
  }

  /** Retries connection errors and 5xx for up to `deadlineMs` (the platform may be restarting). */
  async fetchBootSpec(deadlineMs = 60_000): Promise<SandboxBootSpec> {
    const response = await this.call('GET', '/spec', undefined, deadlineMs);
    const parsed = sandboxBootSpecSchema.safeParse(await response.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`the platform's boot spec is invalid: ${issue.path.join('.')}: ${issue.message}`);
    }
    return parsed.data;
  }

  async reportPhase(report: PhaseReport): Promise<void> {
    await this.call('POST', '/phase', report, 15_000);
  }

  private async call(method: string, path: string, body: unknown, deadlineMs: number): Promise<Response> {
    const deadline = Date.now() + deadlineMs;
    let lastError = '';
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok) return response;
        const text = await response.text();
        lastError = `${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`;
        if (response.status < 500) throw new Error(lastError);
      } catch (error) {
        if ((error as Error).message === lastError) throw error;
        lastError = `${method} ${path}: ${(error as Error).message}`;
      }
      if (Date.now() > deadline) throw new Error(`platform unreachable: ${lastError}`);
      await sleep(Math.min(200 * 2 ** attempt, 3000));
    }
  }
}
