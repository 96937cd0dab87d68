import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the third-party test data lives: `../shared/corpus` beside the repository (never copied in). */
export const CORPUS_DIR = fileURLToPath(new URL('../../../../../shared/corpus/', import.meta.url));

/** True when the corpus folder exists; tests that need it skip otherwise. */
export const hasCorpus = existsSync(CORPUS_DIR);

if (!hasCorpus) console.log(`corpus not found at ${CORPUS_DIR} — skipping corpus tests`);

/** The bytes of a corpus file, by its path inside the corpus folder (read as bytes, never as text). */
export function corpusBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(CORPUS_DIR + path));
}

/** One Stalwart field vector: the raw field body after `Name:` and the expected parse (null: no value). */
export interface FieldVector<T> {
  header: string;
  expected: T | null;
}

/** The vectors of one Stalwart field file, such as `address.json`. */
export function fieldVectors<T>(file: string): FieldVector<T>[] {
  return JSON.parse(readFileSync(`${CORPUS_DIR}fields/stalwart/${file}`, 'utf8')) as FieldVector<T>[];
}
