// `pnpm bench:smtp`: the SMTP rows alone (server, smtp-source, client), printed as a Markdown table; docs/benchmarks.md is left as it is.
import { renderTable } from './report.js';
import { smtpClientSuite } from './smtp-client.js';
import { smtpServerSuite } from './smtp-server.js';
import { smtpSourceSuite } from './smtp-source.js';

const rows = [...(await smtpServerSuite()), ...(await smtpSourceSuite()), ...(await smtpClientSuite())];
process.stdout.write(`${renderTable(rows).join('\n')}\n`);
