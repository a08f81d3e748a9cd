import { buildClients } from './support/build-clients';
import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

beforeAll(() => buildClients(), 120_000);

// Starts real local mode in a child process; see node/e2e-local-upstream-clients.ts.
test('upstream clients and the seed example end to end against local mode (node/e2e-local-upstream-clients.ts)', async () => {
  const result = await runNodeTestFile('test/clients/node/e2e-local-upstream-clients.ts');
  expectAllPassed(result);
  expect(result.passed).toBeGreaterThanOrEqual(7);
}, 1_500_000);
