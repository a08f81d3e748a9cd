/**
 * Request body limits in bytes. Agents carry up to 20 sandbox files with 10 MB of
 * base64 in total, so their routes get room for that plus the rest of the agent;
 * skills can hold long instructions; everything else is small.
 */
export const BODY_LIMITS = {
  default: 256 * 1024,
  skill: 1024 * 1024,
  agent: 12 * 1024 * 1024,
  /** The opencode passthrough: prompts with images, as opencode's own server takes them. */
  opencode: 12 * 1024 * 1024,
  /** A session handed from the web to a worker: its initial prompt (100000 characters) and sealed env vars. */
  workerHandOff: 1024 * 1024,
} as const;
