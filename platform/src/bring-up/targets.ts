/**
 * The two targets of the one bring-up (bring-up.ts): a session's cold start and a warm
 * sandbox. Each maps the bring-up's steps onto its own row: a session walks the
 * platform phases and ends `ready` (its initial prompt queued in the same
 * transaction), a warm row records its task and becomes `warm`.
 */
import { SESSION_PHASES, type SessionPhase } from '@lap/sandbox-protocol';
import { enqueueJob } from '../db/jobs';
import { withTransaction } from '../db/pool';
import { getSession, recordSandbox, type SessionRow } from '../db/sessions';
import {
  getWarmSandbox,
  markWarmSandboxDead,
  markWarmSandboxWarm,
  recordWarmHarnessSessionId,
  recordWarmSandboxRef,
  recordWarmSandboxUrls,
  type WarmSandboxRow,
} from '../db/warm-pool';
import { supportsTui, ttyUrlFor } from '../harness/client';
import { advancePhase, failSession, markReady, restartBringUp } from '../lifecycle/session-states';
import { BringUpError } from '../sandbox/bring-up';
import { TargetEnded, type BringUpDeps, type BringUpTarget, type ExistingSandbox } from './bring-up';
import type { SessionEnvStash } from './session-env-stash';

export const SESSION_ENV_LOST_REASON =
  'the per-session env vars were held only in memory by the worker that took the session, ' +
  'and it stopped before the sandbox got them; create the session again';

const phaseIndex = (phase: string) => SESSION_PHASES.indexOf(phase as SessionPhase);

/** The bring-up of a session (a cold start). Null when the session is no longer creating. */
export async function sessionTarget(
  deps: BringUpDeps & { sessionEnv: SessionEnvStash },
  sessionId: string,
  options: { needsSessionEnv: boolean },
): Promise<BringUpTarget | null> {
  const { db, launcher, log, settings } = deps;
  let session: SessionRow | null = await getSession(db, sessionId);
  if (!session || session.status !== 'creating') return null;
  const id = session.id;
  const createdAt = session.created_at.getTime();

  const stillCreating = async (): Promise<SessionRow> => {
    const s = await getSession(db, id);
    if (!s || s.status !== 'creating') throw new TargetEnded();
    return s;
  };

  return {
    kind: 'session',
    id,
    agentId: session.agent_id,
    deadline: createdAt + settings.creatingTimeoutMs,
    sessionEnv() {
      if (!options.needsSessionEnv) return undefined;
      const env = deps.sessionEnv.get(id);
      if (!env) throw new BringUpError(SESSION_ENV_LOST_REASON);
      return env;
    },
    existingSandbox(): ExistingSandbox | null {
      if (!session!.sandbox_ref) return null;
      return {
        ref: session!.sandbox_ref,
        harnessUrl: session!.sandbox_url,
        secretsPushed: phaseIndex(session!.phase) >= phaseIndex('waiting_harness'),
      };
    },
    async replaceSandbox(existing) {
      await launcher.stop(existing.ref, 'replaced by a resumed bring-up');
      await restartBringUp(db, id);
      session = await stillCreating();
    },
    async launched(ref) {
      await recordSandbox(db, id, { ref });
      await stillCreating();
    },
    async phase(phase) {
      await advancePhase(db, id, phase);
    },
    async running({ ref, harnessUrl, vaultAdminUrl }) {
      await recordSandbox(db, id, { ref, sandboxUrl: harnessUrl, vaultAdminUrl });
      await stillCreating();
    },
    async reportedPhase() {
      const s = await getSession(db, id);
      if (!s) throw new TargetEnded();
      if (s.status === 'failed')
        return { state: 'failed', reason: s.failure_reason ?? 'harness reported failure' };
      if (s.status !== 'creating') throw new TargetEnded();
      return s.phase === 'harness_listening' ? { state: 'listening' } : null;
    },
    secretsPushed() {
      deps.sessionEnv.discard(id);
    },
    async ready(harnessUrl, agent, harness) {
      const ready = await withTransaction(db, async (tx) => {
        const marked = await markReady(tx, id, {
          sandboxUrl: harnessUrl,
          ttyUrl: ttyUrlFor(supportsTui(agent.harness_id), harnessUrl),
          harnessSessionId: harness.harnessSessionId,
        });
        if (marked?.initial_prompt)
          await enqueueJob(tx, { kind: 'deliver_initial_prompt', sessionId: id, maxAttempts: 1 });
        return marked;
      });
      if (!ready) throw new TargetEnded();
      log.info({ session_id: id, bring_up_ms: Date.now() - createdAt, warm: false }, 'session ready');
    },
    async fail(reason, timedOut) {
      const full = timedOut
        ? `sandbox did not become ready within ${settings.creatingTimeoutMs / 1000} s (last phase: ${(await getSession(db, id))?.phase}): ${reason}`
        : reason;
      await failSessionAndStop(deps, id, full);
    },
    async ended() {
      // Stopped or deleted while coming up: make sure its sandbox goes too.
      deps.sessionEnv.discard(id);
      const current = await getSession(db, id);
      if (current?.sandbox_ref) await launcher.stop(current.sandbox_ref, `session ${current.status}`);
    },
  };
}

/** creating -> failed, and its sandbox stops (bring-up failure, or the job gave up). */
export async function failSessionAndStop(
  deps: Pick<BringUpDeps, 'db' | 'launcher' | 'log'> & { sessionEnv: SessionEnvStash },
  id: string,
  reason: string,
): Promise<void> {
  const failed = await failSession(deps.db, id, reason);
  deps.sessionEnv.discard(id);
  const current = failed ?? (await getSession(deps.db, id));
  if (current?.sandbox_ref) await deps.launcher.stop(current.sandbox_ref, `bring-up failed: ${reason}`);
  if (failed) deps.log.warn({ session_id: id, failure_reason: reason }, 'session failed');
}

/** The bring-up of one planned warm sandbox. Null when the row is no longer provisioning. */
export async function warmTarget(deps: BringUpDeps, warmSandboxId: string): Promise<BringUpTarget | null> {
  const { db, launcher, log, settings } = deps;
  const row: WarmSandboxRow | null = await getWarmSandbox(db, warmSandboxId);
  if (!row || row.status !== 'provisioning') return null;
  const id = row.id;

  return {
    kind: 'warm',
    id,
    agentId: row.agent_id,
    // A warm bring-up gets as long as a cold one, and never past its TTL.
    deadline: Math.min(row.expires_at.getTime(), row.created_at.getTime() + settings.creatingTimeoutMs),
    // Agent-level values only: a warm sandbox never serves a session with its own env vars.
    sessionEnv: () => undefined,
    existingSandbox: () =>
      row.sandbox_ref ? { ref: row.sandbox_ref, harnessUrl: row.sandbox_url, secretsPushed: false } : null,
    async replaceSandbox() {
      throw new BringUpError('the worker running this warm bring-up stopped; a fresh one is planned');
    },
    async launched(ref) {
      if (!(await recordWarmSandboxRef(db, id, ref))) {
        await launcher.stop(ref, 'warm sandbox ended while launching');
        throw new TargetEnded();
      }
    },
    async phase() {
      // A warm row has no phases.
    },
    async running({ harnessUrl, vaultAdminUrl }) {
      if (!(await recordWarmSandboxUrls(db, id, { sandboxUrl: harnessUrl, vaultAdminUrl })))
        throw new TargetEnded();
    },
    async reportedPhase() {
      const current = await getWarmSandbox(db, id);
      if (!current || current.status === 'dead')
        return { state: 'failed', reason: current?.failure_reason ?? 'warm sandbox removed' };
      return current.status === 'provisioning' ? null : { state: 'listening' };
    },
    secretsPushed() {},
    async ready(_harnessUrl, _agent, harness) {
      // The harness's callback may have marked the row warm already: the id is recorded either way.
      await markWarmSandboxWarm(db, id);
      if (harness.harnessSessionId) await recordWarmHarnessSessionId(db, id, harness.harnessSessionId);
      log.info(
        { warm_sandbox_id: id, agent_id: row.agent_id, bring_up_ms: Date.now() - row.created_at.getTime() },
        'warm sandbox ready',
      );
    },
    async fail(reason) {
      await endWarmSandbox(deps, id, reason);
    },
    async ended() {
      const current = await getWarmSandbox(db, id);
      if (current?.sandbox_ref)
        await launcher.stop(current.sandbox_ref, `warm sandbox ${current.status}`).catch(() => undefined);
    },
  };
}

/** provisioning/warm -> dead, and its task stops. A warm sandbox is never retried: the next top-up plans a fresh one. */
export async function endWarmSandbox(
  deps: Pick<BringUpDeps, 'db' | 'launcher' | 'log'>,
  id: string,
  reason: string,
): Promise<void> {
  const row = await markWarmSandboxDead(deps.db, id, reason);
  const ref = row?.sandbox_ref ?? (await getWarmSandbox(deps.db, id))?.sandbox_ref;
  if (ref) await deps.launcher.stop(ref, reason).catch(() => undefined);
  if (row) deps.log.warn({ warm_sandbox_id: id, failure_reason: reason }, 'warm sandbox failed');
}
