export { createHarnessServer } from './server';
export type { HarnessServer, HarnessServerOptions } from './server';
export { createAdapter } from './adapters';
export { bootSandbox, BootError } from './boot';
export { loadHarnessConfig } from './config';
