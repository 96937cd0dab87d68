export type { ImapBinaryRequest } from './binary.js';
export * from './capabilities.js';
export * from './mailbox-pattern.js';
export * from './message-view.js';
export * from './session.js';
export * from './store-bridge.js';
