export { formatAddrSpec } from './addr-spec.js';
export * from './format.js';
export * from './idn.js';
export * from './parse.js';
export type * from './types.js';
