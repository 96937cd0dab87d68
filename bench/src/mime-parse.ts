import { parseMessage } from '@postwire/mime';
import { simpleParser } from 'mailparser';
import PostalMime from 'postal-mime';
import { compareThroughput, type Workload } from './measure.js';
import { base64AttachmentMessage, corpusMessages, htmlNewsletter } from './mime-samples.js';
import type { Row } from './report.js';

/** mailparser with its HTML/text conversions off, so that it does the same work as the others. */
const MAILPARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
};

function parsers(messages: readonly Buffer[]): Record<'ours' | 'postal-mime' | 'mailparser', Workload> {
  const bytes = messages.reduce((sum, message) => sum + message.length, 0);
  const each = (parse: (message: Buffer) => Promise<unknown>): Workload => ({
    bytes,
    async run() {
      for (const message of messages) await parse(message);
    },
  });
  return {
    ours: each((message) => parseMessage(message)),
    'postal-mime': each((message) => PostalMime.parse(message)),
    mailparser: each((message) => simpleParser(message, MAILPARSER_OPTIONS)),
  };
}

async function parseRow(workload: string, messages: readonly Buffer[], rounds: number): Promise<Row> {
  const { ours, ...peers } = await compareThroughput(parsers(messages), { warmup: 2, rounds });
  return { workload, unit: 'MB/s', ours, peers };
}

/** The parse rows of docs/benchmarks.md: the corpus, a 1 MB newsletter, a 50 MB message with attachments. */
export async function mimeParseSuite(): Promise<Row[]> {
  const rows: Row[] = [];
  const corpus = corpusMessages();
  if (corpus.length > 0)
    rows.push(await parseRow(`Parse the corpus (${corpus.length} messages, 9.3 MB)`, corpus, 7));
  else console.log('corpus not found at ../shared/corpus — skipping the corpus row');
  rows.push(await parseRow('Parse a 1 MB HTML newsletter (quoted-printable)', [htmlNewsletter()], 9));

  const { message, base64Bodies } = base64AttachmentMessage(50);
  const { ours, ...peers } = await compareThroughput(
    {
      ...parsers([message]),
      'Buffer.from base64 of the attachments (limit)': {
        bytes: message.length,
        run() {
          let total = 0;
          for (const body of base64Bodies) total += Buffer.from(body, 'base64').length;
          return total;
        },
      },
    },
    { warmup: 1, rounds: 5 },
  );
  rows.push({ workload: 'Parse a 50 MB message with five base64 attachments', unit: 'MB/s', ours, peers });
  return rows;
}
