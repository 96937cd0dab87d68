export * from './protocol/capabilities.js';
export * from './protocol/command.js';
export * from './protocol/response.js';
