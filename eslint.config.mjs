import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The control plane's layers, lowest first (platform/src; README "Module map"). A module
 * may import from its own layer and the ones below, never from a layer above it.
 */
const PLATFORM_LAYERS = [
  ['logger.ts', 'validation', 'secrets'],
  ['db'],
  ['agents', 'sandbox', 'harness', 'jobs', 'worker-link'],
  ['lifecycle', 'warm-pool'],
  ['bring-up', 'diagnose', 'reaper', 'task-events'],
  ['sessions'],
  ['api', 'worker', 'config'],
  ['local', 'main.ts'],
];
const at = (entry) => `./platform/src/${entry}`;
const layerZones = PLATFORM_LAYERS.slice(0, -1).map((layer, index) => ({
  target: layer.map(at),
  from: PLATFORM_LAYERS.slice(index + 1)
    .flat()
    .map(at),
  message: 'imports run down the layers of platform/src only (eslint.config.mjs PLATFORM_LAYERS)',
}));

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'cdk.out/**', '.lap/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['platform/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
      // A session's status and phase change only through the state machine.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/sessions'],
              importNames: [
                'writeSessionPhase',
                'resetSessionSandbox',
                'writeSessionReady',
                'writeSessionEnded',
                'writeSessionsOfSandboxEnded',
                'writeTimedOutSessionsFailed',
                'writeIdleSessionsDead',
                'writeAllSessionsDead',
                'recordHarnessSessionId',
              ],
              message: 'session status and phase changes go through lifecycle/session-states.ts',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['platform/src/lifecycle/session-states.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      globals: { module: 'writable', require: 'readonly', process: 'readonly', __dirname: 'readonly' },
    },
  },
);
