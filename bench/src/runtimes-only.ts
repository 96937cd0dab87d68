// `pnpm bench:runtimes`: the figures across runtimes alone, written into their section of docs/benchmarks.md
// (the rest of the page is left as it is) and printed.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RUNTIMES_END, RUNTIMES_START, renderRuntimeSection, replaceSection } from './report.js';
import { runtimesSuite, runtimeVersions } from './runtimes.js';

const section = renderRuntimeSection(await runtimesSuite(), runtimeVersions());
const target = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
writeFileSync(target, replaceSection(readFileSync(target, 'utf8'), RUNTIMES_START, RUNTIMES_END, section));
process.stdout.write(`${section}\n`);
