/**
 * The harness HTTP protocol (platform -> harness, port HARNESS_PORT). Every route but /health
 * needs `Authorization: Bearer <HARNESS_TOKEN>`; /tty takes the token as `?token=`. The schemas
 * below validate both ends: the harness parses what it is sent, the platform what it gets back.
 */
import { z } from 'zod';

export const HARNESS_PORT = 4096;

export const HARNESS_IDS = ['opencode', 'claude-agent-sdk', 'claude-code', 'codex'] as const;
export type HarnessId = (typeof HARNESS_IDS)[number];
export const TUI_HARNESS_IDS: readonly HarnessId[] = ['claude-code', 'codex'];
export const harnessIdSchema = z.enum(HARNESS_IDS, { error: `must be one of ${HARNESS_IDS.join(', ')}` });

/** `ALL /opencode/*` (opencode harness only): forwarded to the sandbox's own opencode server. */
export const HARNESS_OPENCODE_PREFIX = '/opencode';

/** Env var overriding the command a TUI harness runs in its PTY (tests, custom images). */
export const HARNESS_TTY_COMMAND_ENV = 'HARNESS_TTY_COMMAND';

/** One part of a message: `{ type: "text", text }`, a tool part, or whatever a harness adds. */
export const messagePartSchema = z.looseObject({
  type: z.string().min(1, 'parts[].type must be a non-empty string'),
});
export type MessagePart = z.infer<typeof messagePartSchema>;

/** POST /turn: one synchronous agent turn. */
export const turnRequestSchema = z.object({
  parts: z.array(messagePartSchema).min(1, 'parts must hold at least one part'),
});
export type TurnRequest = z.infer<typeof turnRequestSchema>;
export const turnResponseSchema = z.object({ parts: z.array(messagePartSchema) });
export type TurnResponse = z.infer<typeof turnResponseSchema>;

/**
 * GET /health (no auth). 200 with `ok`, or `starting` while the agent boots or restarts after
 * its process died; 503 with `dead` and `reason` once it died and could not be restarted.
 */
export const harnessHealthSchema = z.object({
  status: z.enum(['ok', 'starting', 'dead']),
  harness_id: harnessIdSchema,
  supports_tui: z.boolean(),
  /** The conversation the harness drives (opencode: its session id), null until there is one. */
  harness_session_id: z.string().nullable(),
  /** A turn is running (one sent to opencode through /opencode/* included). */
  busy: z.boolean(),
  /** With `dead`: why (an exit code or signal, never the agent's logs). */
  reason: z.string().optional(),
});
export type HarnessHealth = z.infer<typeof harnessHealthSchema>;

/** GET /events: Server-Sent Events, `event: <type>`, `data: <JSON HarnessEvent>`, `id: <seq>`. */
export const harnessEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('turn_started'), turn_id: z.string() }),
  z.object({ type: z.literal('token'), turn_id: z.string(), text: z.string() }),
  z.object({ type: z.literal('tool_call'), turn_id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({ type: z.literal('tool_result'), turn_id: z.string(), name: z.string(), output: z.unknown() }),
  z.object({ type: z.literal('turn_done'), turn_id: z.string(), parts: z.array(messagePartSchema) }),
  z.object({ type: z.literal('error'), turn_id: z.string().optional(), message: z.string() }),
]);
export type HarnessEvent = z.infer<typeof harnessEventSchema>;

/** POST /abort: stops the turn in flight, if any. 204. */

/**
 * GET /tty (WebSocket, TUI harnesses): binary/text frames are terminal bytes both ways; a text
 * frame holding JSON `{ "type": "resize", "cols": n, "rows": n }` resizes the PTY.
 */
export const ttyResizeSchema = z.object({
  type: z.literal('resize'),
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});
export type TtyResize = z.infer<typeof ttyResizeSchema>;
