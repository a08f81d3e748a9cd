/**
 * The boot sequence: stub env -> boot spec -> clone -> requirements -> files. Each step
 * that fails throws a BootError carrying the failure_reason the platform shows the user.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { HarnessReportedPhase, SandboxBootSpec } from '@lap/sandbox-protocol';
import type { Logger } from 'pino';
import { buildAgentEnv, egressEnv } from './agent-env';
import type { HarnessConfig } from './config';
import type { PlatformClient } from './platform-client';
import { waitForStubEnv } from './stub-env';

const run = promisify(execFile);

export class BootError extends Error {
  override readonly name = 'BootError';
}

export interface BootResult {
  spec: SandboxBootSpec;
  agentEnv: Record<string, string>;
}

/**
 * When each boot step ended, in ms since the process started (logged with harness_listening,
 * read by `npm run bench:sandbox` to show where a cold start's time goes).
 */
export class BootTimer {
  private readonly steps: Record<string, number> = {};

  constructor() {
    this.mark('loaded');
  }

  mark(step: string): void {
    this.steps[step] = Math.round(performance.now());
  }

  marks(): Record<string, number> {
    return { ...this.steps };
  }
}

/** The last lines of a failed command's stderr, without anything that looks like a credential URL. */
function commandError(error: unknown): string {
  const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message ?? '');
  return stderr
    .replace(/\/\/[^/@\s]+@/g, '//***@')
    .trim()
    .split('\n')
    .slice(-5)
    .join(' | ')
    .slice(0, 800);
}

export async function cloneRepository(
  repoUrl: string,
  branch: string,
  workspace: string,
  gitToken: string | undefined,
  env: Record<string, string>,
): Promise<void> {
  fs.mkdirSync(workspace, { recursive: true });
  if (fs.readdirSync(workspace).length > 0) {
    throw new BootError(`cannot clone ${repoUrl}: the workspace ${workspace} is not empty`);
  }
  // The token is the vault's stub; the vault swaps it for the git host only. It goes in a
  // one-off header (not the URL, not .git/config) so nothing of it stays in the checkout.
  const auth = gitToken
    ? [
        '-c',
        `http.extraHeader=Authorization: Basic ${Buffer.from(`x-access-token:${gitToken}`).toString('base64')}`,
      ]
    : [];
  try {
    await run(
      'git',
      [
        ...auth,
        '-c',
        'credential.helper=',
        'clone',
        '--branch',
        branch,
        '--single-branch',
        '--',
        repoUrl,
        workspace,
      ],
      { env: { ...env, GIT_TERMINAL_PROMPT: '0' }, timeout: 10 * 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BootError('cannot clone the repository: git is not installed in the harness image');
    }
    throw new BootError(`git clone of ${repoUrl} (branch ${branch}) failed: ${commandError(error)}`);
  }
}

export async function installRequirements(requirements: string, env: Record<string, string>): Promise<void> {
  const python = 'python3';
  try {
    await run(python, ['-m', 'pip', '--version'], { env });
  } catch {
    throw new BootError(
      'the agent has requirements but pip is not available in the harness image (python3 -m pip failed); ' +
        'use an image with python3 and pip, or remove the requirements',
    );
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lap-req-')), 'requirements.txt');
  fs.writeFileSync(file, requirements.endsWith('\n') ? requirements : `${requirements}\n`);
  try {
    await run(
      python,
      ['-m', 'pip', 'install', '--user', '--no-input', '--disable-pip-version-check', '-r', file],
      {
        env,
        timeout: 15 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (error) {
    throw new BootError(`pip install of the agent's requirements failed: ${commandError(error)}`);
  }
}

/** `~/x` is under HOME, a relative path under the workspace, an absolute path as is. */
export function resolveFilePath(file: string, home: string, workspace: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(home, file.slice(1));
  return path.isAbsolute(file) ? file : path.join(workspace, file);
}

export function writeFiles(files: SandboxBootSpec['files'], home: string, workspace: string): void {
  for (const file of files) {
    const target = resolveFilePath(file.path, home, workspace);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, Buffer.from(file.content_base64, 'base64'), { mode: file.mode ?? 0o644 });
      if (file.mode !== undefined) fs.chmodSync(target, file.mode);
    } catch (error) {
      throw new BootError(`cannot write file ${file.path}: ${(error as Error).message}`);
    }
  }
}

export async function bootSandbox(
  config: HarnessConfig,
  platform: PlatformClient,
  logger: Logger,
  timer = new BootTimer(),
  processEnv: NodeJS.ProcessEnv = process.env,
): Promise<BootResult> {
  const phase = async (name: HarnessReportedPhase, detail?: string) => {
    logger.info({ event: 'phase', phase: name, detail });
    await platform.reportPhase({ phase: name, ...(detail ? { detail } : {}) });
  };

  logger.info({ event: 'waiting_for_vault', file: config.VAULT_ENV_FILE });
  // The spec comes from the platform, not through the vault: fetched while the vault is pushed to.
  const [stubs, spec] = await Promise.all([
    waitForStubEnv(config.VAULT_ENV_FILE, config.VAULT_ENV_TIMEOUT_MS).then(
      (found) => (timer.mark('vault_released'), found),
      (error: Error) => Promise.reject(new BootError(error.message)),
    ),
    platform.fetchBootSpec().then(
      (found) => (timer.mark('spec_fetched'), found),
      (error: Error) => Promise.reject(new BootError(`cannot fetch the boot spec: ${error.message}`)),
    ),
  ]);
  const agentEnv = buildAgentEnv(config, spec, stubs, processEnv);
  fs.mkdirSync(config.HOME, { recursive: true });

  if (spec.repo_url) {
    await phase('cloning_repo', spec.repo_url);
    const toolEnv = { ...egressEnv(processEnv), PATH: processEnv.PATH ?? '/usr/bin:/bin', HOME: config.HOME };
    await cloneRepository(spec.repo_url, spec.branch, config.WORKSPACE_DIR, stubs.GIT_TOKEN, toolEnv);
    timer.mark('cloned');
  } else {
    fs.mkdirSync(config.WORKSPACE_DIR, { recursive: true });
  }
  // Clone-and-wipe: the (stub) git token leaves the harness's environment for good.
  delete processEnv.GIT_TOKEN;

  if (spec.requirements?.trim()) {
    await phase('installing_deps');
    await installRequirements(spec.requirements, agentEnv);
    timer.mark('deps_installed');
  }
  writeFiles(spec.files, config.HOME, config.WORKSPACE_DIR);
  timer.mark('files_written');
  return { spec, agentEnv };
}
