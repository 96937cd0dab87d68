export * from './protocol/capabilities.js';
export * from './protocol/command.js';
export * from './protocol/path.js';
export * from './protocol/reply.js';
export * from './protocol/xtext.js';
export * from './server/received.js';
export * from './server/session.js';
