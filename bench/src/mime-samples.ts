import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The third-party corpus beside the repository (never copied into it). */
const CORPUS_MIME = fileURLToPath(new URL('../../../shared/corpus/mime/', import.meta.url));

/** Every distinct .eml message of the corpus, as bytes; empty when the corpus is absent. */
export function corpusMessages(): Buffer[] {
  if (!existsSync(CORPUS_MIME)) return [];
  const seen = new Set<string>();
  const messages: Buffer[] = [];
  for (const folder of readdirSync(CORPUS_MIME)) {
    for (const file of readdirSync(CORPUS_MIME + folder)) {
      if (!file.endsWith('.eml')) continue;
      const bytes = readFileSync(`${CORPUS_MIME}${folder}/${file}`);
      const key = `${bytes.length}:${bytes.subarray(0, 256).toString('latin1')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      messages.push(bytes);
    }
  }
  return messages;
}

/** Deterministic pseudo-random bytes (a 32-bit LCG), so that every run measures the same message. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    let encoded = line.replace(/[=\u0080-\uffff]/g, (c) =>
      [...Buffer.from(c, 'utf8')].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    );
    while (encoded.length > 76) {
      let cut = 75;
      while (encoded[cut - 1] === '=' || encoded[cut - 2] === '=') cut--;
      out.push(`${encoded.slice(0, cut)}=`);
      encoded = encoded.slice(cut);
    }
    out.push(encoded);
  }
  return out.join('\r\n');
}

/** A 1 MB HTML newsletter: multipart/alternative with a quoted-printable text part and HTML part. */
export function htmlNewsletter(): Buffer {
  const items: string[] = [];
  const texts: string[] = [];
  for (let i = 0; items.join('').length < 1_000_000; i++) {
    items.push(
      `<tr><td class="item"><h2 style="font-family:Arial">Article ${i}: Grüße aus Köln</h2>` +
        `<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit — sed do eiusmod tempor ${i}.</p>` +
        `<a href="https://news.example/article/${i}?utm_source=newsletter">Read more</a></td></tr>\n`,
    );
    texts.push(
      `Article ${i}: Grüße aus Köln\nLorem ipsum dolor sit amet — ${i}.\nhttps://news.example/article/${i}\n`,
    );
  }
  const html = `<html><body><table>\n${items.join('')}</table></body></html>\n`;
  return Buffer.from(
    [
      'From: "News" <news@news.example>',
      'To: reader@example.org',
      'Subject: =?utf-8?Q?Newsletter_f=C3=BCr_November?=',
      'Date: Tue, 24 Nov 2026 08:00:00 +0100',
      'Message-ID: <newsletter-2026-11@news.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="alt-boundary"',
      '',
      '--alt-boundary',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      quotedPrintable(texts.join('')),
      '--alt-boundary',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      quotedPrintable(html),
      '--alt-boundary--',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** A message of about `megabytes` MB: a short text part and five base64 attachments. */
export function base64AttachmentMessage(megabytes: number): { message: Buffer; base64Bodies: string[] } {
  const attachmentSize = Math.floor((megabytes * 1_000_000 * 0.75) / 5);
  const base64Bodies: string[] = [];
  const parts = [
    'From: Sender <sender@example.com>',
    'To: Receiver <receiver@example.org>',
    'Subject: Quarterly figures',
    'Date: Tue, 24 Nov 2026 09:30:00 +0000',
    'Message-ID: <figures@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mixed-boundary"',
    '',
    '--mixed-boundary',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Please find the figures attached.',
  ];
  for (let i = 0; i < 5; i++) {
    const body = base64Lines(pseudoRandomBytes(attachmentSize, i + 1));
    base64Bodies.push(body);
    parts.push(
      '--mixed-boundary',
      `Content-Type: application/octet-stream; name="figures-${i}.bin"`,
      `Content-Disposition: attachment; filename="figures-${i}.bin"`,
      'Content-Transfer-Encoding: base64',
      '',
      body,
    );
  }
  parts.push('--mixed-boundary--', '');
  return { message: Buffer.from(parts.join('\r\n'), 'latin1'), base64Bodies };
}
