/**
 * GET /sessions/{id}/diagnose: everything needed to tell why a session is stuck
 * or failed, in one answer. `detected_issues` uses the original platform's codes
 * (lap-reference section 4), mapped onto what the launcher reports.
 */
import type pg from 'pg';
import { getAgent, type AgentRecord } from '../db/agents';
import { getSession, type SessionRow, type SessionWithHarness } from '../db/sessions';
import { probeHarness } from '../harness/client';
import type { SandboxControl, SandboxFailureCode, SandboxState } from '../sandbox/launcher';
import type { WarmPool, WarmSandboxStatus } from '../warm-pool/port';

export const NOT_RUNNING_AFTER_MS = 180_000;
export const STALE_CREATING_AFTER_MS = 120_000;
export const LOG_LINES = 50;

export interface DetectedIssue {
  code: string;
  message: string;
}

export interface HarnessProbe {
  url: string | null;
  reachable: boolean;
  status: string | null;
  latency_ms: number | null;
}

export interface Diagnosis {
  session: SessionWithHarness;
  agent: Omit<AgentRecord, 'env_vars_ciphertext' | 'litellm_api_key_ciphertext'> | null;
  sandbox: SandboxState | null;
  recent_logs: string[];
  /** Why `recent_logs` is empty although the session has a sandbox (e.g. no worker answered). */
  recent_logs_error: string | null;
  warm_pool: { enabled: boolean; counts: Record<WarmSandboxStatus, number> };
  harness_probe: HarnessProbe;
  detected_issues: string[];
  issue_details: DetectedIssue[];
}

/** Launcher failure codes -> diagnose codes (the Kubernetes-era names where one exists). */
const FAILURE_CODES: Record<SandboxFailureCode, string> = {
  image_pull_failed: 'pod_image_pull_backoff',
  capacity_unavailable: 'fargate_capacity_unavailable',
  subnet_ip_exhausted: 'subnet_ip_exhausted',
  vcpu_quota_exceeded: 'vcpu_quota_exceeded',
  essential_container_exited: 'sandbox_container_exited',
  launch_failed: 'sandbox_launch_failed',
};

export function detectIssues(input: {
  session: SessionRow;
  sandbox: SandboxState | null;
  probe: HarnessProbe;
  warmPool: { enabled: boolean; counts: Record<WarmSandboxStatus, number> };
  now: number;
}): DetectedIssue[] {
  const { session, sandbox, probe } = input;
  const issues: DetectedIssue[] = [];
  const age = input.now - session.created_at.getTime();
  if (sandbox?.failure)
    issues.push({ code: FAILURE_CODES[sandbox.failure.code], message: sandbox.failure.message });
  const live = session.status === 'creating' || session.status === 'ready';
  if (session.status === 'creating' && age > NOT_RUNNING_AFTER_MS && sandbox?.lifecycle !== 'running')
    issues.push({
      code: 'pod_not_ready_old',
      message: `sandbox not running ${Math.round(age / 1000)} s after the session was created (${sandbox?.lifecycle ?? 'no sandbox'})`,
    });
  if (live && sandbox?.lifecycle === 'running' && !probe.reachable && session.phase !== 'pod_running')
    issues.push({
      code: 'harness_unreachable',
      message: `sandbox runs but its harness at ${probe.url} does not answer`,
    });
  if (live && session.sandbox_ref && (!sandbox || sandbox.lifecycle === 'stopped'))
    issues.push({
      code: 'sandbox_gone',
      message: `the session's sandbox ${session.sandbox_ref} is no longer running`,
    });
  if (input.warmPool.enabled && input.warmPool.counts.warm === 0)
    issues.push({
      code: 'warm_pool_empty_for_agent',
      message: 'no warm sandbox for this agent: sessions cold-start',
    });
  if (session.status === 'creating' && age > STALE_CREATING_AFTER_MS && probe.reachable)
    issues.push({
      code: 'stale_creating',
      message: `creating for ${Math.round(age / 1000)} s although the harness answers (phase ${session.phase})`,
    });
  return issues;
}

export interface DiagnoseDeps {
  db: pg.Pool;
  launcher: SandboxControl;
  warmPool: WarmPool;
  /**
   * The sandbox's last LOG_LINES log lines: read by the launcher in a worker, asked of a
   * worker over its internal listener in the web service (whose role may not read them).
   */
  recentLogs: (session: SessionRow) => Promise<string[]>;
}

export async function diagnoseSession(deps: DiagnoseDeps, id: string): Promise<Diagnosis | null> {
  const session = await getSession(deps.db, id);
  if (!session) return null;
  let logsError: string | null = null;
  const [agent, sandbox, logs, warmPool] = await Promise.all([
    getAgent(deps.db, session.agent_id),
    session.sandbox_ref ? deps.launcher.describe(session.sandbox_ref) : Promise.resolve(null),
    session.sandbox_ref
      ? deps.recentLogs(session).catch((error: Error) => {
          logsError = `sandbox logs unavailable: ${error.message}`;
          return [] as string[];
        })
      : Promise.resolve([] as string[]),
    deps.warmPool.countsForAgent(session.agent_id),
  ]);
  const url = sandbox?.harnessUrl ?? session.sandbox_url;
  const started = Date.now();
  const health = url ? await probeHarness(url, 3000) : null;
  const probe: HarnessProbe = {
    url,
    reachable: health !== null,
    status: health?.status ?? null,
    latency_ms: health ? Date.now() - started : null,
  };
  const issues = detectIssues({ session, sandbox, probe, warmPool, now: Date.now() });
  let publicAgent: Diagnosis['agent'] = null;
  if (agent) {
    const { env_vars_ciphertext: _e, litellm_api_key_ciphertext: _k, ...rest } = agent;
    publicAgent = rest;
  }
  return {
    session,
    agent: publicAgent,
    sandbox,
    recent_logs: logs,
    recent_logs_error: logsError,
    warm_pool: warmPool,
    harness_probe: probe,
    detected_issues: issues.map((i) => i.code),
    issue_details: issues,
  };
}
