export * from './crypto.js';
export * from './dns.js';
