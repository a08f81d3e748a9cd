import { LapApiError, LapConnectionError, LapError, SessionFailedError } from '@litellm/agent-sdk';

/** A problem the user can fix; printed as one line without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

/** One line for the terminal: what went wrong and, where there is one, what to do. */
export function describeError(error: unknown, baseUrl?: string): string {
  if (error instanceof LapApiError) {
    if (error.status === 401) {
      return `the platform${baseUrl ? ` at ${baseUrl}` : ''} rejected the API key (401 ${error.detail}): run \`lap login\` or pass --api-key`;
    }
    if (error.status === 404) return error.detail;
    return `${error.detail} (HTTP ${error.status})`;
  }
  if (error instanceof LapConnectionError)
    return `${error.message}: is the platform running? (check --base-url)`;
  if (error instanceof SessionFailedError) return error.message;
  if (error instanceof CliError || error instanceof LapError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
