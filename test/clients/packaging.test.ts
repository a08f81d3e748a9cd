import { buildClients } from './support/build-clients';
import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

beforeAll(() => buildClients(), 120_000);

test('npm pack of both packages and the SDK README example (node/packaging.ts)', async () => {
  const result = await runNodeTestFile('test/clients/node/packaging.ts');
  expectAllPassed(result);
  expect(result.passed).toBeGreaterThanOrEqual(3);
}, 120_000);
