export { Agent, type CreateAgentOptions, type CreateSessionOptions } from './agent.js';
export { Session, type WaitOptions } from './session.js';
export type { EventsOptions, WatchOptions } from './session-events.js';
export {
  createClaudeStream,
  type ClaudeStreamHandle,
  type ClaudeStreamState,
  type ClaudeStreamStatus,
  type ClaudeStreamSubscriber,
  type CreateClaudeStreamOptions,
} from './claude-stream.js';
export { foldSdkMessages, type FoldedMessage, type SDKMessageLike } from './claude-fold.js';
export type * from './sdk-messages.js';
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

// The upstream SDK's names for the same types.
export type { ConnectionOptions as ClientOptions } from './transport.js';
export type { CreateAgentOptions as AgentCreateOptions } from './agent.js';
