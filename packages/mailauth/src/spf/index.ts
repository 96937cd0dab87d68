export * from './macro.js';
export * from './record.js';
