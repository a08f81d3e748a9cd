/**
 * One Jest configuration for the whole repository. Tests live in test/, mirroring
 * the source folders. TypeScript is transpiled without type checking here
 * (isolatedModules); `npm run typecheck` checks types once for everything.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }],
  },
  // ESM sources (the clients) import './x.js'; map that back to the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // One embedded PostgreSQL server for the whole run; each test file creates its own database.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
