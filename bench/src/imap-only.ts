// `pnpm bench:imap`: the IMAP server rows alone, printed as a Markdown table; docs/benchmarks.md is left as it is.
import { imapSuite } from './imap.js';
import { renderTable } from './report.js';

process.stdout.write(`${renderTable(await imapSuite()).join('\n')}\n`);
