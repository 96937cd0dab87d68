import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeLatin1, decodeUtf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Mailbox } from '../../src/address/types.js';
import { parseMessageSync } from '../../src/parser/parse-message.js';
import { parseMessageStream } from '../../src/parser/stream-api.js';
import { run, splitAt } from '../parser/events.js';
import { CORPUS_DIR, corpusBytes, hasCorpus } from '../support/corpus.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

/** The SHA-256 list at the end of the corpus README, by path. */
function readmeDigests(): Map<string, string> {
  const digests = new Map<string, string>();
  const readme = readFileSync(`${CORPUS_DIR}README.md`, 'utf8');
  for (const match of readme.matchAll(/^([0-9a-f]{64}) {2}(\S+)$/gm)) digests.set(match[2]!, match[1]!);
  return digests;
}

const messages = hasCorpus ? [...readmeDigests().keys()].filter((path) => path.endsWith('.eml')) : [];

/** A corpus message, checked against the README's digest before use. */
function load(path: string): Uint8Array {
  const bytes = corpusBytes(path);
  expect(sha256(bytes), `${path} is unchanged`).toBe(readmeDigests().get(path));
  return bytes;
}

const addressesOf = (list: readonly unknown[]) => list.map((address) => (address as Mailbox).address);

describe.skipIf(!hasCorpus)('corpus: whole messages', () => {
  it('lists the 21 messages of the README', () => {
    expect(messages).toHaveLength(21);
  });

  it.each(messages)('%s parses without exception, alike in 64 KB chunks', async (path) => {
    const bytes = load(path);
    const message = parseMessageSync(bytes);
    expect(message.parts.end).toBe(bytes.length);
    let parts = 0;
    for await (const event of parseMessageStream(
      (async function* () {
        for (let i = 0; i < bytes.length; i += 65_536) yield bytes.subarray(i, i + 65_536);
      })(),
    )) {
      if (event.type === 'part') parts++;
    }
    const count = (part: typeof message.parts): number =>
      1 +
      (part.message ? count(part.message) : 0) +
      part.children.reduce((sum, child) => sum + count(child), 0);
    expect(parts).toBe(count(message.parts));
  });

  it('any chunking of a corpus message gives the same events', () => {
    const samples = [
      'mime/postal-mime/mimetorture.eml',
      'mime/mailsplit/message.eml',
      'mime/postal-mime/bounce.eml',
    ];
    const whole = new Map(samples.map((path) => [path, run([load(path)])]));
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.nat({ max: 45_000 }), { maxLength: 40 }),
        (path, cuts) => {
          expect(run(splitAt(corpusBytes(path), cuts))).toEqual(whole.get(path));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('mimetorture.eml: 9 attachments, 10 with rfc822Attachments', () => {
    for (const path of ['mime/postal-mime/mimetorture.eml', 'mime/mailsplit/mimetorture.eml']) {
      const bytes = load(path);
      const message = parseMessageSync(bytes);
      expect(message.subject).toBe("Ryan Finnie's MIME Torture Test v1.0");
      expect(addressesOf(message.from)).toEqual(['rfinnie@domain.dom']);
      expect(message.attachments).toHaveLength(9);
      expect(message.attachments.map((attachment) => attachment.filename)).toEqual(
        expect.arrayContaining(['foo.gz', 'blah.gz', 'blah1.gz', 'htmlfile.html', 'smiley-3.png', 'dot.gif']),
      );
      const forced = parseMessageSync(bytes, { rfc822Attachments: true });
      expect(forced.attachments).toHaveLength(10);
      expect(new Set(forced.attachments.map((attachment) => attachment.contentType))).toEqual(
        new Set(['message/rfc822']),
      );
      expect(message.defects).toEqual([]);
    }
  });

  it('calendar-event.eml: 2 attachments with identical content, the first a REQUEST', () => {
    const message = parseMessageSync(load('mime/postal-mime/calendar-event.eml'));
    expect(message.subject).toContain('Invitation: Test event \u23f0 @ Thu Apr 11, 2024');
    expect(message.attachments).toHaveLength(2);
    const [calendar, ics] = message.attachments;
    expect(calendar!.contentType).toBe('text/calendar');
    expect(ics!.filename).toBe('invite.ics');
    expect(calendar!.content).toEqual(ics!.content);
    expect(message.parts.children[0]!.children[2]!.contentType.parameters.method).toBe('REQUEST');
    expect(decodeUtf8(calendar!.content)).toContain('METHOD:REQUEST');
    expect(message.text).toBeTruthy();
    expect(message.html).toContain('<');
  });

  it('bounce.eml: 2 attachments and the delivery status', () => {
    const message = parseMessageSync(load('mime/postal-mime/bounce.eml'));
    expect(message.attachments.map((attachment) => attachment.contentType)).toEqual([
      'message/delivery-status',
      'message/rfc822',
    ]);
    expect(message.deliveryStatus?.recipients[0]).toMatchObject({ action: 'failed', status: '5.0.0' });
    expect(message.text).toContain('This is an automated message from the mail system');
  });

  it('delivery-status.eml and arf.eml: report parts', () => {
    const dsn = parseMessageSync(load('mime/mailparser/delivery-status.eml'));
    expect(dsn.subject).toBe('Delivery Status Notification (Failure)');
    expect(dsn.attachments.map((attachment) => attachment.contentType)).toEqual([
      'message/delivery-status',
      'message/rfc822',
    ]);
    expect(dsn.deliveryStatus?.recipients.length).toBeGreaterThan(0);
    const arf = parseMessageSync(load('mime/postal-mime/arf.eml'));
    expect(arf.attachments.map((attachment) => attachment.contentType)).toEqual(['message/feedback-report']);
    expect(arf.parts.children[2]!.message?.contentType.mediaType).toBe('text/plain');
  });

  it('base64encodedroot.eml: the root is a 425-byte PNG', () => {
    const message = parseMessageSync(load('mime/mailparser/base64encodedroot.eml'));
    expect(message.attachments).toHaveLength(1);
    const png = message.attachments[0]!;
    expect(png).toMatchObject({ contentType: 'image/png', size: 425, path: '' });
    expect(sha256(png.content)).toBe('3d0c2d17edd1fed968f66ca200e7c165efd63834b488eec53deb24cca49c3d7b');
    expect(message.text).toBeUndefined();
  });

  it('base64encodedroot.eml fed one byte at a time decodes the same', () => {
    const bytes = load('mime/mailparser/base64encodedroot.eml');
    const single = Array.from(bytes, (byte) => Uint8Array.of(byte));
    expect(run(single)).toEqual(run([bytes]));
  });

  it('form-data.eml: an HTTP request line is skipped, the JPEG part is intact', () => {
    const message = parseMessageSync(load('mime/mailsplit/form-data.eml'));
    const jpeg = message.attachments.find((attachment) => attachment.contentType === 'image/jpeg')!;
    expect(jpeg.filename).toBe('IMG_2757.jpg');
    expect(jpeg.size).toBe(2_469_438);
    expect(md5(jpeg.content)).toBe('6c7388d43ad5961b5c042bfbeb25de99');
    expect(message.defects.map((defect) => defect.code)).toEqual(['invalid-header-line']);
  });

  it('large_image.eml: the base64 JPEG decodes whole', () => {
    const message = parseMessageSync(load('mime/mailsplit/large_image.eml'));
    expect(message.subject).toBe('Large image attachment \u017e\u0161\u00f5\u00fc\u00e4\u00f6');
    const [jpeg] = message.attachments;
    expect(jpeg).toMatchObject({ contentType: 'image/jpeg', filename: 'photo.jpg', related: true });
    expect(jpeg!.size).toBe(2_712_888);
    expect([...jpeg!.content.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect([...jpeg!.content.subarray(-2)]).toEqual([0xff, 0xd9]);
  });

  it('nodemailer.eml and message.eml: related images with Content-IDs, a text attachment', () => {
    const message = parseMessageSync(load('mime/mailparser/nodemailer.eml'));
    expect(message.subject).toMatch(/^Nodemailer is unicode friendly \u2714/);
    expect(addressesOf(message.from)).toEqual(['andris@kreata.ee']);
    expect(message.attachments.map((attachment) => [attachment.contentType, attachment.related])).toEqual([
      ['text/watch-html', false],
      ['image/png', true],
      ['image/gif', true],
      ['text/plain', false],
    ]);
    expect(message.attachments[2]!.filename).toBe('nyan cat \u2714.gif');
    expect(message.attachments[1]!.contentId).toBe('note@example.com');
    const split = parseMessageSync(load('mime/mailsplit/message.eml'));
    expect(split.attachments.map((attachment) => attachment.filename)).toEqual([
      'image.png',
      'nyancat.gif',
      'notes.txt',
    ]);
    expect(split.text).toBeTruthy();
  });

  it('source1.eml and source2.eml differ only by trailing bytes', () => {
    const one = parseMessageSync(load('mime/mailsplit/source1.eml'));
    const two = parseMessageSync(load('mime/mailsplit/source2.eml'));
    expect(two.subject).toBe(one.subject);
    expect(two.attachments.map((attachment) => attachment.size)).toEqual(
      one.attachments.map((attachment) => attachment.size),
    );
    expect(one.headers.filter((field) => field.key === 'received').length).toBeGreaterThan(0);
  });

  it('mixed.eml and nested.eml: alternatives and a further inline text joined', () => {
    const mixed = parseMessageSync(load('mime/mailparser/mixed.eml'));
    expect(mixed.attachments).toEqual([]);
    expect(mixed.text).toBeTruthy();
    expect(mixed.html).toContain('white-space: pre-wrap');
    const nested = parseMessageSync(load('mime/mailparser/nested.eml'));
    expect(nested.text).toBeTruthy();
    expect(nested.html).toBeTruthy();
    expect(nested.attachments).toEqual([]);
  });

  it('decoderended.eml: 8-bit Latin-1 text and an empty embedded message', () => {
    const message = parseMessageSync(load('mime/mailparser/decoderended.eml'));
    expect(message.html).toBe('<span>html section\u00dc</span>\n\n');
    expect(message.attachments.map((attachment) => [attachment.contentType, attachment.size])).toEqual([
      ['message/rfc822', 0],
    ]);
  });

  it('spam.eml: a declared text/html with a stray boundary gives non-empty html', () => {
    const message = parseMessageSync(load('mime/mailparser/spam.eml'));
    expect(message.html?.length).toBeGreaterThan(0);
    expect(addressesOf(message.from)).toEqual(['noreply@guide-des-vins-de-bourgogne.fr']);
  });

  it('outofmemory.eml, htmllargecallstack.eml and large_text.eml: large bodies parse', () => {
    expect(parseMessageSync(load('mime/mailparser/outofmemory.eml')).html).toHaveLength(1_139_579);
    expect(parseMessageSync(load('mime/mailparser/htmllargecallstack.eml')).html?.length).toBeGreaterThan(
      500_000,
    );
    const large = parseMessageSync(load('mime/mailparser/large_text.eml'));
    expect(large.subject).toBe('[Bug 381598] Re: ubiquity crashes in ubuntu 9.04 installation');
    expect(large.text?.length).toBeGreaterThan(1_000_000);
    expect(decodeLatin1(large.headers[0]!.raw)).toMatch(/^Return-Path:/);
  });
});
