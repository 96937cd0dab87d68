// Throughput on whichever runtime runs this module (web-standard APIs only): MIME parsing of two messages
// made here the same way on every runtime, and an IMAP FETCH of a whole mailbox through the connector
// given. Each figure is the median of timed rounds after warm-up, in MB/s (10^6 bytes).
import { createImapClient } from '@postwire/imap';
import { composeMessage, parseMessage } from '@postwire/mime';

const FROM = 'Newsletter <news@example.org>';
const TO = 'ann@example.com';
const DATE = new Date('2026-11-24T12:00:00Z');

/** Bytes that look random, the same on every runtime (a linear congruential generator). */
function noise(length, seed) {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** A 1 MB HTML newsletter, quoted-printable, and a 5 MB message with five base64 attachments. */
export async function sampleMessages() {
  const paragraph =
    'Grüße aus Köln: the quarterly figures are in, with links to the report (https://example.org/r?id=42&amp;p=1) ';
  const html = `<html><body>${Array.from({ length: 8200 }, (_, i) => `<p class="item">${i}. ${paragraph}</p>`).join('\n')}</body></html>`;
  const newsletter = await composeMessage({
    from: FROM,
    to: TO,
    subject: 'Quarterly news',
    date: DATE,
    messageId: '<news@example.org>',
    text: 'The quarterly figures are in.',
    html,
  }).bytes();
  const attachments = await composeMessage({
    from: FROM,
    to: TO,
    subject: 'Five files',
    date: DATE,
    messageId: '<files@example.org>',
    text: 'Five files attached.',
    attachments: Array.from({ length: 5 }, (_, i) => ({
      filename: `file-${i}.bin`,
      content: noise(1_000_000, i + 1),
    })),
  }).bytes();
  return { newsletter, attachments };
}

async function rate(bytes, run, { warmup, rounds }) {
  for (let i = 0; i < warmup; i++) await run();
  const rates = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await run();
    rates.push(bytes / 1e6 / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

/**
 * Measures the three figures. `imap` names a server holding the mailbox to fetch ({ host, port, user }),
 * reached over plain TCP, so that the figure is the client's and the runtime's, not a TLS library's.
 */
export async function measureThroughput({ connector, imap }) {
  const { newsletter, attachments } = await sampleMessages();
  const parse = (message) => () => parseMessage(message);
  const mimeNewsletter = await rate(newsletter.length, parse(newsletter), { warmup: 3, rounds: 9 });
  const mimeAttachments = await rate(attachments.length, parse(attachments), { warmup: 2, rounds: 7 });

  const client = await createImapClient({
    connector,
    host: imap.host,
    port: imap.port,
    starttls: 'never',
    auth: { ...imap.user, allowCleartext: true },
  });
  try {
    await client.open('INBOX', { readOnly: true });
    let size = 0;
    const fetchAll = async () => {
      let bytes = 0;
      for await (const message of client.fetch('1:*', { bodies: [''] })) {
        for await (const part of message.bodies) bytes += (await part.bytes()).length;
      }
      size = bytes;
    };
    await fetchAll();
    const imapFetch = await rate(size, fetchAll, { warmup: 1, rounds: 7 });
    return {
      mimeNewsletter,
      mimeAttachments,
      imapFetch,
      newsletterBytes: newsletter.length,
      attachmentBytes: attachments.length,
      mailboxBytes: size,
    };
  } finally {
    await client.logout();
  }
}
