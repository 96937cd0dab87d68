export * from './connect.js';
export * from './deflate.js';
export * from './listener.js';
export type { ServerTlsOptions, TlsUpgrade } from './tls.js';
export * from './transport.js';
