import { expectAllPassed, runNodeTestFile } from './support/node-test-file';

// The SDK is ESM-only; its tests run under node:test (see support/node-test-file.ts).
test('SDK against the control-plane test double (node/sdk-double.ts)', async () => {
  const result = await runNodeTestFile('test/clients/node/sdk-double.ts');
  expectAllPassed(result);
  expect(result.passed).toBeGreaterThanOrEqual(9);
});
