export * from './authentication-results/index.js';
export * from './dkim/index.js';
export * from './dmarc/index.js';
export * from './spf/index.js';
