// `pnpm bench:imap-client`: the IMAP client rows alone (ours against imapflow), printed as a Markdown table; docs/benchmarks.md is left as it is.
import { imapClientSuite } from './imap-client-vs-imapflow.js';
import { renderTable } from './report.js';

process.stdout.write(`${renderTable(await imapClientSuite()).join('\n')}\n`);
