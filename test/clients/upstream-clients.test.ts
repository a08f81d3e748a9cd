import { buildClients } from './support/build-clients';
import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

beforeAll(() => buildClients(), 120_000);

// The upstream clients' flows against the test double; see node/upstream-clients-double.ts.
test('upstream SDK, CLIs and @opencode-ai/sdk flows against the control-plane test double', async () => {
  const result = await runNodeTestFile('test/clients/node/upstream-clients-double.ts');
  expectAllPassed(result);
  expect(result.passed).toBeGreaterThanOrEqual(13);
}, 180_000);
