import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { imapSuite } from './imap.js';
import { imapClientSuite } from './imap-client-vs-imapflow.js';
import { lineDecodingSuite } from './line-decoding.js';
import { mailauthSuite } from './mailauth.js';
import { mimeComposeSuite } from './mime-compose.js';
import { mimeParseSuite } from './mime-parse.js';
import { mimeStreamMemorySuite } from './mime-stream-memory.js';
import { pop3Suite } from './pop3.js';
import { renderReport } from './report.js';
import { runtimesSuite, runtimeVersions } from './runtimes.js';
import { smtpClientSuite } from './smtp-client.js';
import { smtpServerSuite } from './smtp-server.js';
import { smtpSourceSuite } from './smtp-source.js';
import { storeSuite } from './store.js';
import { storePostgresSuite } from './store-postgres.js';

const rows = [
  ...(await lineDecodingSuite()),
  ...(await mimeParseSuite()),
  ...(await mimeStreamMemorySuite()),
  ...(await mimeComposeSuite()),
  ...(await mailauthSuite()),
  ...(await storeSuite()),
  ...(await smtpServerSuite()),
  ...(await smtpSourceSuite()),
  ...(await smtpClientSuite()),
  ...(await pop3Suite()),
  ...(await imapSuite()),
  ...(await imapClientSuite()),
];
const runtimes = { rows: await runtimesSuite(), versions: runtimeVersions() };
const report = renderReport(rows, new Date(), runtimes, await storePostgresSuite());
const target = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
writeFileSync(target, report);
process.stdout.write(report);
