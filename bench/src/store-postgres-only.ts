// `pnpm bench:store-postgres`: the PostgreSQL store's rows alone (one, two and four IMAP processes on one
// database, against a Maildir), written into their section of docs/benchmarks.md (the rest of the page is
// left as it is) and printed.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  renderStorePostgresSection,
  replaceSection,
  STORE_POSTGRES_END,
  STORE_POSTGRES_START,
} from './report.js';
import { storePostgresSuite } from './store-postgres.js';

const { rows, databaseCores } = await storePostgresSuite();
const section = renderStorePostgresSection(rows, databaseCores);
const target = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
writeFileSync(
  target,
  replaceSection(readFileSync(target, 'utf8'), STORE_POSTGRES_START, STORE_POSTGRES_END, section),
);
process.stdout.write(`${section}\n`);
