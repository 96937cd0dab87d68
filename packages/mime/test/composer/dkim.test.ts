import { decodeLatin1, decodeUtf8, InvalidArgumentError, utf8 } from '@postwire/core';
import { type DkimSigner, verifyDkim } from '@postwire/mailauth';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519Key, keyRecord, rsaKey, zoneResolver } from '../../../mailauth/test/dkim/keys.js';
import { type ComposeOptions, composeMessage, parseMessageSync } from '../../src/index.js';

const rsa = rsaKey(2048);
const ed = ed25519Key();
const resolver = zoneResolver({
  'rsa._domainkey.example.com': [keyRecord(rsa)],
  'ed._domainkey.example.com': [keyRecord(ed)],
});
const NOW = Date.UTC(2026, 10, 24, 10);
const now = () => NOW;

const rsaSigner: DkimSigner = { domain: 'example.com', selector: 'rsa', privateKey: rsa.privatePem };
const edSigner: DkimSigner = {
  domain: 'example.com',
  selector: 'ed',
  privateKey: ed.privatePem,
  algorithm: 'ed25519-sha256',
};

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(utf8(chunk));
      controller.close();
    },
  });
}

/** A message with every kind of part: text, HTML with an inline image, and attachments as bytes, text and a stream. */
function richMessage(dkim: DkimSigner | DkimSigner[]): ComposeOptions {
  return {
    from: '"Ann Ëxample" <ann@example.com>',
    to: ['bob@example.org', 'Carol <carol@example.net>'],
    cc: 'dave@example.com',
    bcc: 'eve@example.com',
    subject: 'Quarterly report — signed',
    date: new Date('2026-11-24T10:00:00Z'),
    messageId: 'report-1@example.com',
    text: 'Hi,\nthe report is attached.\n.\nFrom here on, a line that starts with From.\n',
    html: '<p>Hi, the <b>report</b> is attached.</p><img src="cid:logo@example.com">',
    attachments: [
      { filename: 'report.pdf', content: Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256) },
      { filename: 'notes.txt', content: 'first line\nsecond line — ünïcode\n' },
      { filename: 'data.csv', content: streamOf('a,b\r\n', '1,2\r\n', '3,4\r\n') },
      { contentId: 'logo@example.com', filename: 'logo.png', content: Uint8Array.of(0x89, 0x50, 0x4e, 0x47) },
    ],
    dkim,
    dkimOptions: { now },
  };
}

async function verify(message: Uint8Array) {
  return verifyDkim(message, { resolver, now });
}

describe('composeMessage with dkim', () => {
  it.each([
    ['RSA-SHA256', rsaSigner],
    ['Ed25519-SHA256', edSigner],
  ])('signs a message with attachments with %s, and it verifies', async (_, signer) => {
    const bytes = await composeMessage(richMessage(signer)).bytes();
    const text = decodeLatin1(bytes);
    expect(text.startsWith('DKIM-Signature:')).toBe(true);
    expect(text.match(/^DKIM-Signature:/gm)).toHaveLength(1);
    const [result, ...others] = await verify(bytes);
    expect(others).toEqual([]);
    expect(result!.result).toBe('pass');
    expect(result!.signature!.domain).toBe('example.com');
    expect(result!.signature!.timestamp).toBe(NOW / 1000);
    const signed = new Set(result!.signature!.signedHeaders);
    for (const name of [
      'from',
      'to',
      'cc',
      'subject',
      'date',
      'message-id',
      'mime-version',
      'content-type',
    ]) {
      expect(signed.has(name), name).toBe(true);
    }
    // Bcc stays out of the header, and so out of the signature.
    expect(text).not.toMatch(/^Bcc:/im);
    // The rest is the message as composed: it parses, with its parts.
    const parsed = parseMessageSync(bytes);
    expect(parsed.subject).toBe('Quarterly report — signed');
    expect(parsed.headers[0]!.name.toLowerCase()).toBe('dkim-signature');
    expect(parsed.defects).toEqual([]);
    expect(parsed.attachments.map((each) => each.filename).sort()).toEqual([
      'data.csv',
      'logo.png',
      'notes.txt',
      'report.pdf',
    ]);
  });

  it('adds one signature per signer, in order, each verifying', async () => {
    const bytes = await composeMessage(richMessage([rsaSigner, edSigner])).bytes();
    const results = await verify(bytes);
    expect(results.map((each) => [each.signature?.selector, each.result])).toEqual([
      ['rsa', 'pass'],
      ['ed', 'pass'],
    ]);
  });

  it('signs the MIME fields of a single-part message too, and a change to a signed field fails', async () => {
    const bytes = await composeMessage({
      from: 'ann@example.com',
      to: 'bob@example.org',
      subject: 'Hello',
      text: 'Hello, Bob.\n',
      dkim: { ...rsaSigner, canonicalization: 'simple/simple' },
    }).bytes();
    const [result] = await verify(bytes);
    expect(result!.result).toBe('pass');
    expect(result!.signature!.signedHeaders).toEqual(
      expect.arrayContaining(['content-type', 'content-transfer-encoding', 'mime-version']),
    );
    const tampered = utf8(decodeLatin1(bytes).replace('Subject: Hello', 'Subject: Hellp'));
    expect((await verify(tampered))[0]!.result).toBe('fail');
  });

  it('keeps the envelope and Message-ID, and gives the same bytes on every read', async () => {
    const composed = composeMessage(richMessage(edSigner));
    expect(composed.messageId).toBe('<report-1@example.com>');
    expect(composed.envelope).toEqual({
      from: 'ann@example.com',
      to: ['bob@example.org', 'carol@example.net', 'dave@example.com', 'eve@example.com'],
    });
    const first = await composed.bytes();
    // The streamed attachment was read once; the signed message is read again from memory.
    const chunks: Uint8Array[] = [];
    for await (const chunk of composed) chunks.push(chunk);
    const streamed: Uint8Array[] = [];
    const reader = composed.stream().getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) streamed.push(read.value);
    expect(decodeLatin1(Buffer.concat(chunks))).toBe(decodeLatin1(first));
    expect(decodeLatin1(Buffer.concat(streamed))).toBe(decodeLatin1(first));
    // The signature fields come as a chunk of their own, before the message.
    expect(decodeLatin1(chunks[0]!)).toMatch(/^DKIM-Signature:[\s\S]*\r\n$/);
    expect(decodeLatin1(chunks[1]!)).toMatch(/^Date: /);
  });

  it('signs nothing with an empty list', async () => {
    const bytes = await composeMessage({ ...richMessage([]), attachments: [] }).bytes();
    expect(decodeLatin1(bytes)).toMatch(/^Date: /);
  });

  it('refuses an unusable key on the first read, before any byte', async () => {
    const composed = composeMessage(
      richMessage({ domain: 'example.com', selector: 'rsa', privateKey: 'not a key' }),
    );
    await expect(composed.bytes()).rejects.toBeInstanceOf(InvalidArgumentError);
    const iterator = composed[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(InvalidArgumentError);
    // An RSA key named as Ed25519, and a domain that is no domain, are refused as well.
    for (const dkim of [
      { ...rsaSigner, algorithm: 'ed25519-sha256' as const },
      { ...edSigner, domain: 'bad domain' },
    ]) {
      await expect(composeMessage({ ...richMessage(dkim), attachments: [] }).bytes()).rejects.toThrow(
        InvalidArgumentError,
      );
    }
  });

  it('verifies for any subject, text and attachment (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 120 }),
        fc.string({ unit: 'grapheme', maxLength: 400 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.boolean(),
        async (subject, text, attachment, smtputf8) => {
          const bytes = await composeMessage({
            from: 'ann@example.com',
            to: 'bob@example.org',
            subject: subject.replace(/[\r\n]/g, ' '),
            text,
            attachments: [{ filename: 'blob.bin', content: attachment }],
            smtputf8,
            dkim: edSigner,
            dkimOptions: { now },
          }).bytes();
          const [result] = await verify(bytes);
          expect(result!.result, decodeUtf8(bytes)).toBe('pass');
        },
      ),
      { numRuns: 60 },
    );
  });
});
