export * from './defects.js';
export * from './limits.js';
