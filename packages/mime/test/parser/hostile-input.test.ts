import { utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MimeParser, parseMessageSync } from '../../src/index.js';
import { splitAt } from '../support/chunks.js';

/** Bytes rich in what MIME parsers trip over: boundaries, header syntax, encodings, stray line ends. */
const messageLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'Content-Type: multipart/mixed; boundary="b"\r\n',
        'Content-Type: message/rfc822\r\n',
        'Content-Type: text/plain; charset=utf-7\r\n',
        'Content-Transfer-Encoding: base64\r\n',
        'Content-Transfer-Encoding: quoted-printable\r\n',
        "Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1=x\r\n",
        'From: =?utf-8?B?PGFAYj4=?= <a@b>, "x" <@r:c@d>\r\n',
        'Subject: =?utf-8?q?a=0D=0A?=\r\n',
        '\r\n',
        '\n',
        '\r',
        '--b\r\n',
        '--b--\r\n',
        '--',
        '=?',
        '=\r\n',
        'aGVsbG8=\r\n',
        ':',
        ' ',
      ),
      fc.string({ maxLength: 12 }),
      fc.uint8Array({ maxLength: 12 }).map((bytes) => String.fromCharCode(...bytes)),
    ),
    { maxLength: 60 },
  )
  .map((parts) => utf8(parts.join('')));

describe('hostile or random input', () => {
  it('property: parsing never throws, in one piece or in chunks, and offsets stay inside the input', () => {
    fc.assert(
      fc.property(messageLike, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const message = parseMessageSync(bytes);
        const check = (part: typeof message.parts) => {
          expect(part.headerStart).toBeGreaterThanOrEqual(0);
          expect(part.bodyStart).toBeGreaterThanOrEqual(part.headerStart);
          expect(part.end).toBeLessThanOrEqual(bytes.length);
          for (const child of part.children) check(child);
          if (part.message) check(part.message);
        };
        check(message.parts);
        const parser = new MimeParser();
        for (const chunk of splitAt(
          bytes,
          cuts.map((cut) => cut % (bytes.length + 1)),
        ))
          parser.push(chunk);
        parser.end();
      }),
      { numRuns: 2000 },
    );
  });

  it('property: arbitrary bytes parse without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expect(() => parseMessageSync(bytes)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});
