import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lineDecodingSuite } from './line-decoding.js';
import { renderReport } from './report.js';

const rows = await lineDecodingSuite();
const report = renderReport(rows, new Date());
const target = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
writeFileSync(target, report);
process.stdout.write(report);
