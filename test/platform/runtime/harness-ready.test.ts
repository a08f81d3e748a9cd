/**
 * Bring-up's wait for the harness, against a real HTTP server standing in for a harness
 * whose agent process died while it started (contract 7: `503 {status:"dead", reason}`):
 * the session fails at once with the harness's reason, not after the whole boot deadline
 * with "did not answer".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { awaitHarnessReady, BringUpError } from '../../../platform/src/sandbox/bring-up';

let server: http.Server;
let url: string;
let health: { code: number; body: unknown };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(req.url === '/health' ? health.code : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(health.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const wait = () => ({ deadline: Date.now() + 20_000, pollMs: 50 });

test('a harness whose agent process died fails bring-up at once, with its reason', async () => {
  health = { code: 503, body: { status: 'dead', reason: 'opencode exited with code 1' } };
  const started = Date.now();
  const failed = await awaitHarnessReady({
    harnessUrl: url,
    wait: wait(),
    reportedPhase: async () => null,
  }).catch((err: unknown) => err);
  expect(failed).toBeInstanceOf(BringUpError);
  expect((failed as Error).message).toBe("harness's agent process died: opencode exited with code 1");
  expect(Date.now() - started).toBeLessThan(5_000);
});

test('a healthy harness is ready with its conversation id', async () => {
  health = { code: 200, body: { status: 'ok', harness_session_id: 'ses_1' } };
  await expect(
    awaitHarnessReady({ harnessUrl: url, wait: wait(), reportedPhase: async () => null }),
  ).resolves.toEqual({ harnessSessionId: 'ses_1' });
});
