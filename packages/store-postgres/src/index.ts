export * from './schema.js';
export * from './sql.js';
export * from './store.js';
