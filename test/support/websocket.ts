import type { WebSocket } from 'ws';

/** Resolves with the close code and reason once `socket` closes. */
export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}
