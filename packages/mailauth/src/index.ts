export * from './arc/index.js';
export * from './authenticate.js';
export * from './authentication-results/index.js';
export * from './crypto/index.js';
export * from './dkim/index.js';
export * from './dmarc/index.js';
export * from './dns/index.js';
export type { MessageSource } from './message/input.js';
export * from './spf/index.js';
