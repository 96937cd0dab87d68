import { bodyStructure, parseMessageSync } from '@postwire/mime';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeStructureRecord,
  encodeStructureRecord,
  isRecordId,
  STRUCTURE_CACHE_HEADER,
} from '../../src/maildir/structure-record.js';
import { describeMessage } from '../../src/structure.js';

const encoder = new TextEncoder();

/** Messages that exercise every part of a structure record. */
const MESSAGES: Record<string, string> = {
  plain:
    'From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: plain\r\n' +
    'Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <plain@example.org>\r\n\r\nHello.\r\n',
  'no header at all': '\r\nJust a body.\r\n',
  'sender, reply-to, groups, bcc, in-reply-to':
    'From: a@example.org, "Quoted, Name" <b@example.org>\r\nSender: s@example.org\r\n' +
    'Reply-To: r@example.org\r\nTo: Team: c@example.org, d@example.org;, undisclosed-recipients:;\r\n' +
    'Cc: =?UTF-8?Q?Caf=C3=A9?= <e@example.org>\r\nBcc: f@example.org (Comment Name)\r\n' +
    'In-Reply-To: <x@example.org>\r\nSubject: =?UTF-8?B?w6nDqQ==?= and more\r\n\r\nbody\r\n',
  'folded, tabbed and non-ASCII header values':
    'Subject: a long\r\n\tfolded subject with \u00e9 and \u2028 in it\r\nX-Tab:\tvalue\twith\ttabs\r\n' +
    'From: J\u00f6rg <j\u00f6rg@exampl\u00e9.org>\r\n\r\nbody\r\n',
  'multipart with a nested message and an attachment':
    'Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
    '--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n' +
    '--c\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--c--\r\n' +
    '--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n' +
    'Subject: inner\r\nFrom: i@example.org\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d\r\n\r\ninner body\r\n--d--\r\n' +
    '--b\r\nContent-Type: application/pdf; name="r\u00e9sum\u00e9.pdf"\r\nContent-Transfer-Encoding: base64\r\n' +
    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\nContent-Language: en, fr\r\n" +
    'Content-Location: http://example.org/r\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\nJVBERi0=\r\n--b--\r\n',
  'empty multipart and an unparsed message/rfc822':
    'Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\nContent-Type: multipart/related; boundary=f\r\n\r\n--f--\r\n' +
    '--e\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5\r\n--e--\r\n',
};

describe('structure records of postwire-cache', () => {
  for (const [name, text] of Object.entries(MESSAGES)) {
    it(`give back exactly what parsing gave: ${name}`, () => {
      const bytes = encoder.encode(text);
      const structure = describeMessage(bytes);
      const record = encodeStructureRecord('Mabc_-09', structure);
      // One line: the id, then the envelope, the tree and the header fields, each after a tab; a line feed.
      expect(record.endsWith('\n')).toBe(true);
      expect(record.slice(0, -1)).not.toMatch(/[\n\r\0]/);
      expect(record.split('\t')).toHaveLength(4);
      expect(record.startsWith('Mabc_-09\t')).toBe(true);
      const decoded = decodeStructureRecord(record.slice('Mabc_-09\t'.length, -1));
      expect(decoded).toEqual(structure);
      expect(JSON.parse(JSON.stringify(decoded))).toEqual(JSON.parse(JSON.stringify(structure)));
      expect({ ...decoded }).toEqual(structure);
      // BODY is BODYSTRUCTURE without extension data, as the parser gives it.
      const root = parseMessageSync(bytes, { decode: false }).parts;
      expect(decoded.body).toEqual(bodyStructure(root, bytes, { extended: false }));
      // Sender and Reply-To that fall back to From stay one list.
      if (structure.envelope.sender === structure.envelope.from) {
        expect(decoded.envelope.sender).toBe(decoded.envelope.from);
      }
    });
  }

  it('decode the envelope at once and the rest when first read, then keep it', () => {
    const text = MESSAGES['multipart with a nested message and an attachment']!;
    const structure = describeMessage(encoder.encode(text));
    const record = encodeStructureRecord('Mid', structure).slice('Mid\t'.length, -1);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const decoded = decodeStructureRecord(record);
      expect(parse).toHaveBeenCalledTimes(1);
      expect(decoded.envelope).toEqual(structure.envelope);
      expect(parse).toHaveBeenCalledTimes(1);
      expect(decoded.parts).toEqual(structure.parts);
      expect(decoded.body).toEqual(structure.body);
      expect(decoded.bodyStructure).toBe(decoded.bodyStructure);
      expect(decoded.body).toBe(decoded.body);
      expect(parse).toHaveBeenCalledTimes(2);
      expect(decoded.headers).toBe(decoded.headers);
      expect(parse).toHaveBeenCalledTimes(3);
    } finally {
      parse.mockRestore();
    }
    // Own enumerable properties: keys, spread and JSON see every field.
    expect(Object.keys(decodeStructureRecord(record)).sort()).toEqual(
      ['body', 'bodyStructure', 'envelope', 'headers', 'parts'].sort(),
    );
  });

  it('refuse lines that are not whole records', () => {
    const record = encodeStructureRecord('Mid', describeMessage(encoder.encode(MESSAGES.plain!)));
    const json = record.slice('Mid\t'.length, -1);
    const next = encodeStructureRecord('Mnext', describeMessage(encoder.encode(MESSAGES.plain!)));
    // Cut anywhere, alone or with the next record run on (a write torn by a crash, then an append).
    for (let cut = 0; cut < json.length; cut += 7) {
      expect(() => decodeStructureRecord(json.slice(0, cut))).toThrow();
      expect(() => decodeStructureRecord(json.slice(0, cut) + next.slice(0, -1))).toThrow();
    }
    expect(() => decodeStructureRecord(json + next.slice(0, -1))).toThrow();
    expect(() => decodeStructureRecord('[1,2]\t[]')).toThrow();
    expect(() => decodeStructureRecord('[1,2]\t[]\t[]')).toThrow();
    expect(() => decodeStructureRecord('')).toThrow();
    // The layout of earlier versions: the envelope, the tree and the offsets in one field.
    const [envelope, tree, headers] = json.split('\t');
    expect(() => decodeStructureRecord(`[${envelope},${tree!.slice(1)}\t${headers}`)).toThrow();
    // Zeros where a crash left a block unwritten, anywhere, even in a field decoded later.
    for (let at = 0; at < json.length; at += 11) {
      const zeroed = `${json.slice(0, at)}${'\0'.repeat(Math.min(16, json.length - at))}${json.slice(at + 16)}`;
      expect(() => decodeStructureRecord(zeroed)).toThrow();
    }
    expect(decodeStructureRecord(json).envelope.subject).toBe('plain');
  });

  it('have a header line and ids that a torn line cannot pass for', () => {
    expect(STRUCTURE_CACHE_HEADER).toBe('postwire-cache 2\n');
    expect(isRecordId('M--9viiDes3v4xW6dBT4ZRUOK')).toBe(true);
    for (const id of ['', 'M a', '\0\0\0', 'x'.repeat(65), '{"envelope"', 'postwire-cache 2']) {
      expect(isRecordId(id)).toBe(false);
    }
  });
});
