export { Agent, type CreateAgentOptions, type CreateSessionOptions } from './agent.js';
export { Session, type WaitOptions } from './session.js';
export type { EventsOptions } from './session-events.js';
export { Skill } from './skill.js';
export type { ConnectionOptions } from './transport.js';
export {
  LapApiError,
  LapConnectionError,
  LapError,
  SessionFailedError,
  SessionTimeoutError,
} from './errors.js';
export type * from './types.js';
