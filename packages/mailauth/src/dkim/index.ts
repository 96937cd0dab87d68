export * from './body-canonicalizer.js';
export * from './canonicalization.js';
export * from './key-record.js';
export * from './sign.js';
export * from './signature.js';
export * from './tag-list.js';
export * from './verify.js';
