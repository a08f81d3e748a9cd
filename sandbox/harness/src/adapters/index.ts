import type { HarnessId, SandboxBootSpec } from '@lap/sandbox-protocol';
import type { Logger } from 'pino';
import type { HarnessAdapter } from './adapter';
import { ClaudeAgentSdkAdapter, loadClaudeAgentSdk } from './claude-agent-sdk';
import { findOpencodeBinary, OpencodeAdapter } from './opencode';
import { TtyAdapter } from './tty';

/** The TUI program per harness, with the gateway wired the way each program expects. */
const TUI_PROGRAMS: Record<
  'claude-code' | 'codex',
  { command: string; env: (base: string, key: string) => Record<string, string> }
> = {
  'claude-code': {
    command: 'claude',
    env: (base, key) => ({ ANTHROPIC_BASE_URL: base, ANTHROPIC_API_KEY: key, ANTHROPIC_AUTH_TOKEN: key }),
  },
  codex: {
    command: 'codex',
    env: (base, key) => ({ OPENAI_BASE_URL: `${base.replace(/\/v1$/, '')}/v1`, OPENAI_API_KEY: key }),
  },
};

export interface AdapterContext {
  harnessId: HarnessId;
  spec: SandboxBootSpec;
  agentEnv: Record<string, string>;
  workspace: string;
  logger: Logger;
  /** Overrides the TUI program (HARNESS_TTY_COMMAND). */
  ttyCommand?: string;
  /** Restarts of a dead agent process allowed within 10 min (HARNESS_AGENT_RESTARTS). */
  restarts?: number;
  /** Idle time after which the agent process is stopped until the next request (HARNESS_AGENT_PARK_MS). */
  parkAfterMs?: number;
  processEnv?: NodeJS.ProcessEnv;
}

/** Starts loading what the harness's adapter needs, while the boot waits for the vault. */
export function preloadAdapter(harnessId: HarnessId): void {
  // A failure surfaces when the adapter starts (it loads the same module again).
  if (harnessId === 'claude-agent-sdk') loadClaudeAgentSdk().catch(() => undefined);
}

export function createAdapter(context: AdapterContext): HarnessAdapter {
  const { spec, agentEnv, workspace, logger } = context;
  const apiBase = spec.litellm_api_base.replace(/\/+$/, '');
  switch (context.harnessId) {
    case 'opencode':
      return new OpencodeAdapter({
        binary: findOpencodeBinary(context.processEnv),
        cwd: workspace,
        env: agentEnv,
        model: spec.model,
        prompt: spec.prompt,
        litellmApiBase: apiBase,
        logger,
        maxRestarts: context.restarts,
        parkAfterMs: context.parkAfterMs,
      });
    case 'claude-agent-sdk':
      return new ClaudeAgentSdkAdapter({
        cwd: workspace,
        env: agentEnv,
        model: spec.model,
        prompt: spec.prompt,
        litellmApiBase: apiBase,
        logger,
      });
    case 'claude-code':
    case 'codex': {
      const program = TUI_PROGRAMS[context.harnessId];
      return new TtyAdapter({
        command: context.ttyCommand ?? program.command,
        cwd: workspace,
        env: { ...agentEnv, ...program.env(apiBase, agentEnv.LITELLM_API_KEY ?? '') },
        logger,
      });
    }
  }
}
