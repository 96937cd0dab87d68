// `pnpm bench:mailauth`: the DKIM rows alone (against mailauth from npm), printed as a Markdown table; docs/benchmarks.md is left as it is.
import { mailauthSuite } from './mailauth.js';
import { renderTable } from './report.js';

process.stdout.write(`${renderTable(await mailauthSuite()).join('\n')}\n`);
