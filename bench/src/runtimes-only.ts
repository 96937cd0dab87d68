// `pnpm bench:runtimes`: the figures across runtimes alone, written into their section of docs/benchmarks.md
// (the rest of the page is left as it is) and printed.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RUNTIMES_END, RUNTIMES_START, renderRuntimeSection } from './report.js';
import { runtimesSuite, runtimeVersions } from './runtimes.js';

const section = renderRuntimeSection(await runtimesSuite(), runtimeVersions());
const target = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const page = readFileSync(target, 'utf8');
const start = page.indexOf(RUNTIMES_START);
const end = page.indexOf(RUNTIMES_END);
const updated =
  start >= 0 && end > start
    ? `${page.slice(0, start)}${section}${page.slice(end + RUNTIMES_END.length)}`
    : `${page.trimEnd()}\n\n${section}\n`;
writeFileSync(target, updated);
process.stdout.write(`${section}\n`);
