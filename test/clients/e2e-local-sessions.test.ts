import { buildClients } from './support/build-clients';
import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

beforeAll(() => buildClients(), 120_000);

// Starts real local mode (platform/src/local/main.ts) in a child process; see node/e2e-local-sessions.ts.
test('SDK and CLI end to end against local mode (node/e2e-local-sessions.ts)', async () => {
  const result = await runNodeTestFile('test/clients/node/e2e-local-sessions.ts');
  expectAllPassed(result);
}, 900_000);
