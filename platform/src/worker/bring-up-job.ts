/**
 * The session bring-up job (kind `session_bring_up`): a cold start from
 * `creating_sandbox` to `ready`, reporting each platform phase in order. It can be
 * resumed by another runner after a crash: a sandbox whose vault already got its
 * secrets is awaited again; one that did not is replaced (the one-time vault
 * token died with the old runner). A job that needs per-session env vars it does
 * not hold (they lived only in the crashed process) fails its session clearly.
 */
import { SESSION_PHASES, TUI_HARNESS_IDS, type SessionPhase } from '@lap/sandbox-protocol';
import type pg from 'pg';
import { getAgent } from '../db/agents';
import { enqueueJob, type JobRow } from '../db/jobs';
import { withTransaction } from '../db/pool';
import {
  advancePhase,
  clearSandbox,
  failSession,
  getSession,
  markSessionReady,
  recordSandbox,
  type SessionRow,
} from '../db/sessions';
import {
  awaitHarnessReady,
  awaitSandboxRunning,
  BringUpError,
  launchSandbox,
  pushVaultSecrets,
  type ReportedHarnessPhase,
} from '../sandbox/bring-up';
import { SandboxLaunchError, type SandboxLauncher } from '../sandbox/launcher';
import type { SecretStore } from '../secrets/secret-store';
import type { JobContext, JobHandler } from './job-runner';
import type { Logger } from './logger';
import type { SessionEnvStash } from './session-env-stash';
import { buildVaultPush } from './vault-push';

export interface BringUpSettings {
  signingKey: string;
  callbackUrl: string;
  vaultCaCertPem: string;
  /** EGRESS_TOKEN_KEY: with it, the push carries the sandbox's egress token (enforced egress). */
  egressTokenKey?: string;
  creatingTimeoutMs: number;
  pollMs?: number;
}

export interface BringUpDeps {
  db: pg.Pool;
  launcher: SandboxLauncher;
  secretStore: SecretStore;
  sessionEnv: SessionEnvStash;
  log: Logger;
  settings: BringUpSettings;
}

export const SESSION_ENV_LOST_REASON =
  'the per-session env vars were held only in memory by the platform process that received the create request, ' +
  'and it stopped before the sandbox got them; create the session again';

/** The session left `creating` (stopped, deleted, failed by a callback) while bring-up ran. */
class SessionEnded extends Error {}

const phaseIndex = (phase: string) => SESSION_PHASES.indexOf(phase as SessionPhase);

/** The session's tty URL for TUI harnesses (a WebSocket on the harness). */
export function ttyUrlFor(harnessId: string, harnessUrl: string): string | null {
  if (!(TUI_HARNESS_IDS as readonly string[]).includes(harnessId)) return null;
  return `${harnessUrl.replace(/^http/, 'ws')}/tty`;
}

export function sessionBringUpHandler(deps: BringUpDeps): JobHandler {
  const { db, launcher, log, settings } = deps;

  async function stillCreating(id: string): Promise<SessionRow> {
    const s = await getSession(db, id);
    if (!s || s.status !== 'creating') throw new SessionEnded();
    return s;
  }

  async function fail(session: SessionRow, reason: string): Promise<void> {
    const failed = await failSession(db, session.id, reason);
    deps.sessionEnv.discard(session.id);
    const current = failed ?? (await getSession(db, session.id));
    if (current?.sandbox_ref) await launcher.stop(current.sandbox_ref, `bring-up failed: ${reason}`);
    if (failed) log.warn({ session_id: session.id, failure_reason: reason }, 'session failed');
  }

  async function run(job: JobRow, ctx: JobContext): Promise<void> {
    let session = await getSession(db, job.session_id!);
    if (!session || session.status !== 'creating') return;
    const deadline = session.created_at.getTime() + settings.creatingTimeoutMs;
    const wait = { deadline, signal: ctx.signal, pollMs: settings.pollMs };
    try {
      if (Date.now() >= deadline)
        throw new BringUpError(`sandbox did not become ready within ${settings.creatingTimeoutMs / 1000} s`);
      const sessionEnv = job.payload.session_env === true ? deps.sessionEnv.get(session.id) : undefined;
      if (job.payload.session_env === true && !sessionEnv) throw new BringUpError(SESSION_ENV_LOST_REASON);
      const agent = await getAgent(db, session.agent_id);
      if (!agent) throw new BringUpError('the agent was deleted');

      // Resumed: keep a sandbox whose vault already has its secrets; replace any other.
      if (session.sandbox_ref) {
        const state = await launcher.describe(session.sandbox_ref);
        const usable =
          state &&
          (state.lifecycle === 'running' ||
            state.lifecycle === 'pending' ||
            state.lifecycle === 'provisioning');
        if (!usable || phaseIndex(session.phase) < phaseIndex('waiting_harness')) {
          await launcher.stop(session.sandbox_ref, 'replaced by a resumed bring-up');
          await clearSandbox(db, session.id);
          session = await stillCreating(session.id);
        }
      }

      let harnessUrl = session.sandbox_url;
      if (!session.sandbox_ref) {
        let launched;
        try {
          launched = await launchSandbox(launcher, {
            sandboxId: session.id,
            kind: 'session',
            agent,
            signingKey: settings.signingKey,
            callbackUrl: settings.callbackUrl,
          });
        } catch (err) {
          if (err instanceof SandboxLaunchError) throw new BringUpError(err.message, err.failure);
          throw err;
        }
        await recordSandbox(db, session.id, { ref: launched.ref });
        await stillCreating(session.id);
        const running = await awaitSandboxRunning(launcher, launched.ref, {
          ...wait,
          onPhase: async (phase) => void (await advancePhase(db, session!.id, phase)),
        });
        await recordSandbox(db, session.id, {
          ref: launched.ref,
          sandboxUrl: running.harnessUrl,
          vaultAdminUrl: running.vaultAdminUrl,
        });
        await stillCreating(session.id);
        await advancePhase(db, session.id, 'injecting_files');
        await pushVaultSecrets({
          vaultAdminUrl: running.vaultAdminUrl,
          adminToken: launched.vaultAdminToken,
          caCertPem: settings.vaultCaCertPem,
          push: await buildVaultPush(deps.secretStore, agent, sessionEnv, {
            tokenKey: settings.egressTokenKey,
            sandboxId: session.id,
            vaultAdminUrl: running.vaultAdminUrl,
          }),
          wait,
        });
        deps.sessionEnv.discard(session.id);
        await advancePhase(db, session.id, 'waiting_harness');
        harnessUrl = running.harnessUrl;
      }
      if (!harnessUrl) throw new BringUpError('sandbox has no harness address');

      const id = session.id;
      await awaitHarnessReady({
        harnessUrl,
        wait,
        onAnswering: async () => void (await advancePhase(db, id, 'harness_ready')),
        reportedPhase: async (): Promise<ReportedHarnessPhase> => {
          const s = await getSession(db, id);
          if (!s) throw new SessionEnded();
          if (s.status === 'failed')
            return { state: 'failed', reason: s.failure_reason ?? 'harness reported failure' };
          if (s.status !== 'creating') throw new SessionEnded();
          return s.phase === 'harness_listening' ? { state: 'listening' } : null;
        },
      });

      const ready = await withTransaction(db, async (tx) => {
        const marked = await markSessionReady(tx, id, {
          sandboxUrl: harnessUrl,
          ttyUrl: ttyUrlFor(agent.harness_id, harnessUrl),
        });
        if (marked && session!.initial_prompt)
          await enqueueJob(tx, { kind: 'deliver_initial_prompt', sessionId: id, maxAttempts: 1 });
        return marked;
      });
      if (!ready) throw new SessionEnded();
      log.info(
        { session_id: id, bring_up_ms: Date.now() - session.created_at.getTime(), warm: false },
        'session ready',
      );
    } catch (err) {
      if (err instanceof SessionEnded) {
        // Stopped or deleted while coming up: make sure its sandbox goes too.
        deps.sessionEnv.discard(session.id);
        const current = await getSession(db, session.id);
        if (current?.sandbox_ref) await launcher.stop(current.sandbox_ref, `session ${current.status}`);
        return;
      }
      if (err instanceof BringUpError) {
        const timedOut = Date.now() >= deadline;
        const phase = timedOut ? (await getSession(db, session.id))?.phase : undefined;
        await fail(
          session,
          timedOut
            ? `sandbox did not become ready within ${settings.creatingTimeoutMs / 1000} s (last phase: ${phase}): ${err.message}`
            : err.message,
        );
        return;
      }
      throw err;
    }
  }

  return {
    run,
    async giveUp(job, reason) {
      const session = job.session_id ? await getSession(db, job.session_id) : null;
      if (session) await fail(session, `bring-up failed: ${reason}`);
    },
  };
}
