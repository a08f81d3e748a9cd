/**
 * WebSocket upgrade requests go through Fastify like any request: its router, the route's
 * onRequest hooks (auth), schema validation and error handler. So a refused upgrade gets the
 * same HTTP answer as any route (`401 {"error"}`, `404 {"error"}`) before anything is
 * upgraded, and a route that accepts takes the socket with `takeUpgrade` and upgrades it.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';

export interface PendingUpgrade {
  socket: Duplex;
  head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** Routes every upgrade request of `app.server` through Fastify (call once, before listen). */
export function routeUpgrades(app: FastifyInstance): void {
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    pending.set(request, { socket, head });
    // An upgrade request carries no body (what follows the headers belongs to the new
    // protocol): nothing for the error handler to drain.
    request.complete = true;
    const response = new ServerResponse(request);
    response.assignSocket(socket as never);
    // A route that answered over HTTP instead of upgrading: that answer is the last thing on
    // this connection.
    response.once('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    app.routing(request, response);
  });
}

/** The socket of an upgrade request (still owned by its HTTP response); null for an ordinary request. */
export function pendingUpgrade(request: IncomingMessage): PendingUpgrade | null {
  return pending.get(request) ?? null;
}

/** Takes the socket from the HTTP response, for the route that upgrades it now. */
export function takeUpgrade(request: IncomingMessage, response: ServerResponse): PendingUpgrade {
  const upgrade = pending.get(request);
  if (!upgrade) throw new Error('not an upgrade request');
  pending.delete(request);
  response.detachSocket(upgrade.socket as never);
  return upgrade;
}
