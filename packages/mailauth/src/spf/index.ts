export * from './check-host.js';
export * from './macro.js';
export * from './record.js';
