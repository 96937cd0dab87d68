export * from './client.js';
export type { CompressibleTransport } from './compress.js';
export * from './errors.js';
export * from './events.js';
export type {
  ImapBodyPart,
  ImapBodyRequest,
  ImapFetch,
  ImapFetchedMessage,
  ImapFetchOptions,
  ImapFetchQuery,
} from './fetch.js';
export type { ImapFlagUpdate, ImapMailboxState } from './mailbox-state.js';
export { type ImapRange, toSequenceSet } from './range.js';
export type { ImapResyncMethod } from './resync.js';
export type { ImapSearchQuery } from './search-query.js';
export {
  defaultImapClientLimits,
  defaultImapClientTimeouts,
  type ImapClientTimeouts,
  type UntaggedResponse,
} from './session.js';
export { defaultImapReconnect, type ImapReconnectOptions } from './session-keeper.js';
