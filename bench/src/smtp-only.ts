// `pnpm bench:smtp`: the SMTP server rows alone, printed as a Markdown table; docs/benchmarks.md is left as it is.
import { renderTable } from './report.js';
import { smtpServerSuite } from './smtp-server.js';

process.stdout.write(`${renderTable(await smtpServerSuite()).join('\n')}\n`);
