/**
 * The platform's internal sandbox routes (harness -> platform), under
 * `${CALLBACK_URL}/api/v1/internal/sandboxes/{SANDBOX_ID}`, with
 * `Authorization: Bearer <CALLBACK_TOKEN>`. The platform's routes and the harness's client
 * validate with these schemas.
 */
import { z } from 'zod';
import { harnessIdSchema } from './harness';

/** Bring-up phases in order. The platform owns the first six, the harness reports the rest. */
export const SESSION_PHASES = [
  'creating_sandbox',
  'pod_pending',
  'pod_running',
  'injecting_files',
  'waiting_harness',
  'harness_ready',
  'cloning_repo',
  'installing_deps',
  'harness_listening',
  'ready',
] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];
export const HARNESS_REPORTED_PHASES = ['cloning_repo', 'installing_deps', 'harness_listening'] as const;
export type HarnessReportedPhase = (typeof HARNESS_REPORTED_PHASES)[number];

/**
 * GET .../spec: what to set up. Fetched (not passed in env) because it can be megabytes (files)
 * and ECS limits container overrides to 8 KiB. No real secret values: env holds stubs only
 * once the vault has minted them.
 */
export const sandboxBootSpecSchema = z.object({
  sandbox_id: z.string(),
  agent_id: z.string(),
  harness_id: harnessIdSchema,
  model: z.string().min(1),
  /** The system prompt with skill blocks and enabled memories already appended. */
  prompt: z.string(),
  repo_url: z.string().nullable(),
  branch: z.string().min(1),
  requirements: z.string().nullable(),
  mcp_servers: z.array(z.string()),
  litellm_api_base: z.string(),
  /** Files to write, including skills as ~/.claude/skills/<slug>/SKILL.md. */
  files: z.array(
    z.object({ path: z.string().min(1), content_base64: z.string(), mode: z.number().int().optional() }),
  ),
});
export type SandboxBootSpec = z.infer<typeof sandboxBootSpecSchema>;

/** The longest `detail` and `failure_reason` the platform takes: a harness cuts longer ones. */
export const PHASE_REPORT_LIMITS = { detail: 2000, failure_reason: 4000 } as const;

/** POST .../phase */
export const phaseReportSchema = z.object({
  phase: z.enum([...HARNESS_REPORTED_PHASES, 'failed']),
  detail: z
    .string()
    .max(PHASE_REPORT_LIMITS.detail, `at most ${PHASE_REPORT_LIMITS.detail} characters`)
    .optional(),
  /** Set with phase 'failed'. */
  failure_reason: z
    .string()
    .max(PHASE_REPORT_LIMITS.failure_reason, `at most ${PHASE_REPORT_LIMITS.failure_reason} characters`)
    .optional(),
});
export type PhaseReport = z.infer<typeof phaseReportSchema>;
