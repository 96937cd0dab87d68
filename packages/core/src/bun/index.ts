/**
 * Bun's adapter. Bun implements `node:net` and `node:tls` (STARTTLS by wrapping a socket included), which are
 * its sockets with a TLS upgrade, so the Node adapter is Bun's adapter: this entry names the target, and code
 * written for it runs unchanged.
 */
export * from '../node/index.js';
