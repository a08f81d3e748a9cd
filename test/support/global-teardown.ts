import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__LAP_TEST_PG__ as
    { server: { stop(): Promise<void> }; parent: string } | undefined;
  if (!state) return;
  await state.server.stop();
  fs.rmSync(state.parent, { recursive: true, force: true });
}
