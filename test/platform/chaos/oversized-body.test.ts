/**
 * Chaos: bodies far over the limit, against real local mode. Every one must be answered
 * 413 with the JSON error and read by the client, never a connection reset. The reset
 * was a race (Fastify answers a refused body with `Connection: close`, Node then closed
 * the socket while the client was still uploading: EPIPE/ECONNRESET for fetch), so
 * each route is tried many times, with fetch (undici) and with curl.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLocalPlatform, type LocalPlatform } from '../../clients/support/local-platform';

const run = promisify(execFile);
const ROUNDS = 12;
const ROUTES = [
  [
    'a message (limit 256 KiB)',
    '/api/v1/managed_agents/sessions/00000000-0000-4000-8000-000000000000/message',
  ],
  ['an agent (limit 12 MiB)', '/api/v1/managed_agents/agents'],
  ['a skill (limit 1 MiB)', '/api/v1/skills'],
] as const;

describe('30 MB bodies in local mode', () => {
  let platform: LocalPlatform;
  const body = `{"text":"${' '.repeat(30 * 1024 * 1024)}"}`;
  const file = path.join(os.tmpdir(), `lap-30mb-${process.pid}.json`);

  beforeAll(async () => {
    fs.writeFileSync(file, body);
    platform = await startLocalPlatform({ litellmApiBase: 'http://127.0.0.1:9' });
  }, 120_000);
  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(file, { force: true });
  });

  it.each(ROUTES)(
    '%s: every fetch and curl reads 413 {error}',
    async (_name, route) => {
      const outcomes: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        try {
          const res = await fetch(`${platform.url}${route}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${platform.masterKey}`, 'content-type': 'application/json' },
            body,
          });
          outcomes.push(`fetch ${res.status} ${await res.text()}`);
        } catch (err) {
          outcomes.push(
            `fetch failed: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`,
          );
        }
        try {
          const { stdout } = await run('curl', [
            '-sS',
            '-w',
            ' %{http_code}',
            '-X',
            'POST',
            '-H',
            `authorization: Bearer ${platform.masterKey}`,
            '-H',
            'content-type: application/json',
            '--data-binary',
            `@${file}`,
            `${platform.url}${route}`,
          ]);
          outcomes.push(
            `curl ${stdout.trim().split(' ').pop()} ${stdout.trim().split(' ').slice(0, -1).join(' ')}`,
          );
        } catch (err) {
          outcomes.push(`curl failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
        }
      }
      const expected = '413 {"error":"request body too large"}';
      expect(outcomes).toEqual(
        Array.from({ length: ROUNDS }, () => [`fetch ${expected}`, `curl ${expected}`]).flat(),
      );
    },
    180_000,
  );
});
