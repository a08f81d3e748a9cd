import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from '@litellm/agent-sdk';
import { CliError } from './cli-error.js';

/** What `lap login` saves. */
export interface SavedSettings {
  baseUrl?: string;
  apiKey?: string;
}

export interface SettingsFlags {
  baseUrl?: string;
  apiKey?: string;
}

/** ~/.lap/config.json (HOME is honoured through os.homedir()). */
export function configPath(): string {
  return path.join(os.homedir(), '.lap', 'config.json');
}

export function readSavedSettings(): SavedSettings {
  let text: string;
  try {
    text = fs.readFileSync(configPath(), 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as SavedSettings;
    return {
      baseUrl: typeof parsed.baseUrl === 'string' ? parsed.baseUrl : undefined,
      apiKey: typeof parsed.apiKey === 'string' ? parsed.apiKey : undefined,
    };
  } catch {
    throw new CliError(`${configPath()} is not valid JSON: run \`lap login\` again`);
  }
}

/** Writes the file readable by its owner only (it holds the API key). */
export function saveSettings(settings: Required<SavedSettings>): string {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600); // writeFileSync's mode applies only when it creates the file
  return file;
}

/** Flags > LAP_BASE_URL / LAP_API_KEY > ~/.lap/config.json. */
export function resolveConnection(flags: SettingsFlags): ConnectionOptions {
  const saved = readSavedSettings();
  const baseUrl = flags.baseUrl || process.env.LAP_BASE_URL || saved.baseUrl;
  const apiKey = flags.apiKey || process.env.LAP_API_KEY || saved.apiKey;
  if (!baseUrl) throw new CliError('no platform URL: run `lap login`, set LAP_BASE_URL or pass --base-url');
  if (!apiKey) throw new CliError('no API key: run `lap login`, set LAP_API_KEY or pass --api-key');
  return { baseUrl, apiKey };
}
