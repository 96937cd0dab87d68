export * from './bytes.js';
export * from './errors.js';
export * from './limits.js';
export * from './trace.js';
export * from './transport.js';
export * from './dot-stuffing.js';
export * from './line-decoder.js';
