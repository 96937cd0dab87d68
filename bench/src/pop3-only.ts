// `pnpm bench:pop3`: the POP3 rows alone (client and server), printed as a Markdown table; docs/benchmarks.md is left as it is.
import { pop3Suite } from './pop3.js';
import { renderTable } from './report.js';

process.stdout.write(`${renderTable(await pop3Suite()).join('\n')}\n`);
