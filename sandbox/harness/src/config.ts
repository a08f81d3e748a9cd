/**
 * The harness container's environment, read with the protocol's schema
 * (harnessContainerEnvSchema in @lap/sandbox-protocol, which the task definition and the
 * launcher write to). Every bad key is reported together.
 */
import { harnessContainerEnvSchema, readEnv } from '@lap/sandbox-protocol';
import type { z } from 'zod';

export type HarnessConfig = z.output<typeof harnessContainerEnvSchema>;

export class HarnessConfigError extends Error {
  override readonly name = 'HarnessConfigError';
}

export function loadHarnessConfig(env: NodeJS.ProcessEnv): HarnessConfig {
  const reading = readEnv(harnessContainerEnvSchema, env);
  if (!reading.ok) {
    const problems = reading.problems.map(({ key, message }) => `${key}: ${message}`);
    throw new HarnessConfigError(`invalid harness configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return reading.data;
}
