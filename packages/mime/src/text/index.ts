export * from './flowed.js';
export * from './line-endings.js';
