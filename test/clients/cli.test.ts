import { buildClients } from './support/build-clients';
import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

beforeAll(() => buildClients(), 120_000);

// The CLI is ESM-only; its tests run under node:test (see support/node-test-file.ts).
test('lap CLI in a pseudo-terminal against the control-plane test double (node/cli-double.ts)', async () => {
  const result = await runNodeTestFile('test/clients/node/cli-double.ts');
  expectAllPassed(result);
  expect(result.passed).toBeGreaterThanOrEqual(9);
}, 120_000);
