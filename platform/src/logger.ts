import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';

/** The structured JSON logger every runtime module takes: pino, shared with Fastify. Never given secret values. */
export type Logger = FastifyBaseLogger;

export function createLogger(level: string, name = 'lap-platform'): pino.Logger {
  return pino({ level, base: { service: name } });
}
