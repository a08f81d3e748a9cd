import { Agent } from '@litellm/agent-sdk';
import { read } from 'read';
import { CliError, describeError } from '../cli-error.js';
import { readSavedSettings, saveSettings, type SettingsFlags } from '../settings.js';

/** Asks for the platform URL and key (flags skip the questions), verifies them, saves them. */
export async function login(flags: SettingsFlags): Promise<void> {
  const saved = readSavedSettings();
  const baseUrl = String(
    flags.baseUrl ??
      (await read({
        prompt: 'LAP URL: ',
        default: process.env.LAP_BASE_URL ?? saved.baseUrl ?? 'http://127.0.0.1:3000',
      })),
  ).trim();
  const apiKey = String(
    flags.apiKey ?? (await read({ prompt: 'API key (MASTER_KEY): ', silent: true, replace: '*' })),
  ).trim();
  if (!baseUrl) throw new CliError('a platform URL is required');
  if (!apiKey) throw new CliError('an API key is required');
  // Any authenticated call proves both the URL and the key.
  await Agent.list({ baseUrl, apiKey }, { limit: 1 }).catch((error: unknown) => {
    throw new CliError(describeError(error, baseUrl));
  });
  const file = saveSettings({ baseUrl, apiKey });
  console.log(`✓ logged in to ${baseUrl} (saved to ${file})`);
}
