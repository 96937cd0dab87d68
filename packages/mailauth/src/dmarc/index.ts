export * from './alignment.js';
export * from './check.js';
export * from './record.js';
export * from './report-uri.js';
export * from './result.js';
export * from './tree-walk.js';
