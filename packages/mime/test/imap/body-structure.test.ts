import { utf8 } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { type BodyStructure, bodyStructure, parseMessageSync } from '../../src/index.js';
import { bodySyntax } from './support/imap-syntax.js';

/** `count` lines ending in CRLF that make `size` octets in all. */
function lines(count: number, size: number, char = 'x'): string {
  const content = size - 2 * count;
  const width = Math.floor(content / count);
  const last = content - width * (count - 1);
  return `${`${char.repeat(width)}\r\n`.repeat(count - 1)}${char.repeat(last)}\r\n`;
}

function structureOf(message: string, extended = true): BodyStructure {
  const bytes = utf8(message);
  return bodyStructure(parseMessageSync(bytes).parts, bytes, { extended });
}

const syntaxOf = (message: string, extended = true) => bodySyntax(structureOf(message, extended));

describe('bodyStructure: the RFC 3501 §7.4.2 / RFC 9051 §7.5.2 examples', () => {
  it('a simple text message of 48 lines and 2279 octets (no Content-Type: the defaults)', () => {
    const message = `Subject: simple\r\n\r\n${lines(48, 2279)}`;
    expect(syntaxOf(message, false)).toBe('("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 2279 48)');
    expect(syntaxOf(message)).toBe(
      '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 2279 48 NIL NIL NIL NIL)',
    );
  });

  it('the BODY of the FETCH example: 3028 octets, 92 lines', () => {
    const message = `MIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n${lines(92, 3028)}`;
    expect(syntaxOf(message, false)).toBe('("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)');
  });

  it('a two-part message: text and a BASE64-encoded text attachment', () => {
    const message = [
      'MIME-Version: 1.0',
      'Content-Type: MULTIPART/MIXED; BOUNDARY="8323328-2120168431-824156606=:325"',
      '',
      '--8323328-2120168431-824156606=:325',
      'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
      '',
      `${lines(23, 1152)}`,
      '--8323328-2120168431-824156606=:325',
      'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME="cc.diff"',
      'Content-ID: <960723163407.20117h@cac.washington.edu>',
      'Content-Description: Compiler diff',
      'Content-Transfer-Encoding: BASE64',
      '',
      `${lines(73, 4554, 'Q')}`,
      '--8323328-2120168431-824156606=:325--',
      '',
    ].join('\r\n');
    expect(syntaxOf(message, false)).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ' +
        '"Compiler diff" "BASE64" 4554 73) "MIXED")',
    );
    expect(syntaxOf(message)).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ' +
        '"Compiler diff" "BASE64" 4554 73 NIL NIL NIL NIL) "MIXED" ' +
        '("BOUNDARY" "8323328-2120168431-824156606=:325") NIL NIL NIL)',
    );
  });
});

const nested = [
  'From: Outer <outer@example.com>',
  'Subject: outer',
  'Content-Type: multipart/mixed; boundary=outer',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/html; charset=utf-8',
  'Content-Language: en, de (German)',
  'Content-Location: http://example.com/',
  '  page.html',
  '',
  '<p>hi</p>',
  '--outer',
  'Content-Type: message/rfc822',
  'Content-Disposition: inline',
  'Content-Description: =?utf-8?q?forwarded?=',
  '',
  'From: Inner <inner@example.com>',
  'To: team: a@example.com, b@example.com;',
  'Subject: inner',
  'Message-ID: <inner@example.com>',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  '',
  'plain one',
  'plain two',
  '--inner',
  'Content-Type: image/png; name="a.png"',
  'Content-Transfer-Encoding: base64',
  "Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.png",
  'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
  '',
  'iVBORw0KGgo=',
  '--inner--',
  '',
  '--outer--',
  '',
].join('\r\n');

describe('bodyStructure', () => {
  it('describes a nested message/rfc822 with its envelope, body and line count', () => {
    expect(syntaxOf(nested)).toBe(
      '(("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 1 NIL NIL ("en" "de") "http://example.com/  page.html")' +
        '("MESSAGE" "RFC822" NIL NIL "=?utf-8?q?forwarded?=" "7BIT" 429 ' +
        '(NIL "inner" (("Inner" NIL "inner" "example.com")) (("Inner" NIL "inner" "example.com")) ' +
        '(("Inner" NIL "inner" "example.com")) ((NIL NIL "team" NIL)(NIL NIL "a" "example.com")' +
        '(NIL NIL "b" "example.com")(NIL NIL NIL NIL)) NIL NIL NIL "<inner@example.com>") ' +
        '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 2 NIL NIL NIL NIL)' +
        '("IMAGE" "PNG" ("NAME" "a.png") NIL NIL "BASE64" 12 "Q2hlY2sgSW50ZWdyaXR5IQ==" ' +
        '("ATTACHMENT" ("FILENAME*" "utf-8\'\'%C3%A9t%C3%A9.png")) NIL NIL) "ALTERNATIVE" ' +
        '("BOUNDARY" "inner") NIL NIL NIL) 18 NIL ("INLINE" NIL) NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)',
    );
    expect(syntaxOf(nested, false)).toBe(
      '(("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 1)' +
        '("MESSAGE" "RFC822" NIL NIL "=?utf-8?q?forwarded?=" "7BIT" 429 ' +
        '(NIL "inner" (("Inner" NIL "inner" "example.com")) (("Inner" NIL "inner" "example.com")) ' +
        '(("Inner" NIL "inner" "example.com")) ((NIL NIL "team" NIL)(NIL NIL "a" "example.com")' +
        '(NIL NIL "b" "example.com")(NIL NIL NIL NIL)) NIL NIL NIL "<inner@example.com>") ' +
        '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 2)' +
        '("IMAGE" "PNG" ("NAME" "a.png") NIL NIL "BASE64" 12) "ALTERNATIVE") 18) "MIXED")',
    );
  });

  it('counts the size and lines of the embedded message from the bytes', () => {
    const bytes = utf8(nested);
    const root = parseMessageSync(bytes).parts;
    const part = root.children[1]!;
    const structure = bodyStructure(root, bytes);
    expect(structure.kind).toBe('multipart');
    const message = structure.kind === 'multipart' ? structure.parts[1] : undefined;
    expect(message?.kind).toBe('message');
    const body = new TextDecoder().decode(bytes.subarray(part.bodyStart, part.end));
    expect(message && 'size' in message && message.size).toBe(utf8(body).length);
    expect(body.endsWith('--inner--\r\n')).toBe(true);
    expect(message?.kind === 'message' && message.lines).toBe(body.split('\n').length - 1);
  });

  it('defaults a multipart/digest part to message/rfc822', () => {
    const message = [
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: first',
      '',
      'one',
      '--d--',
      '',
    ].join('\r\n');
    expect(syntaxOf(message, false)).toBe(
      '(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 ' +
        '(NIL "first" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 1) 3) ' +
        '"DIGEST")',
    );
  });

  it('gives a multipart without parts one empty text part', () => {
    const message = 'Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter here\r\n';
    expect(syntaxOf(message)).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)',
    );
    expect(syntaxOf(message, false)).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")',
    );
  });

  it('keeps a multipart without boundary as a basic body', () => {
    expect(syntaxOf('Content-Type: multipart/mixed\r\n\r\nopaque\r\n', false)).toBe(
      '("MULTIPART" "MIXED" NIL NIL NIL "7BIT" 8)',
    );
  });

  it('gives an encoded message/rfc822 the message form with an empty envelope and body', () => {
    const message = [
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: base64',
      '',
      'U3ViamVjdDogeA0KDQpib2R5DQo=',
      '',
    ].join('\r\n');
    expect(syntaxOf(message)).toBe(
      '("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 30 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)',
    );
  });

  it('describes message/global (RFC 9051) like message/rfc822', () => {
    const message = 'Content-Type: message/global\r\n\r\nSubject: x\r\n\r\nbody';
    expect(syntaxOf(message, false)).toBe(
      '("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" 18 (NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL) ' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 4 1) 3)',
    );
  });

  it('reads an invalid Content-Type as text/plain, keeping its parameters', () => {
    expect(syntaxOf('Content-Type: garbage; name=x\r\n\r\nhi', false)).toBe(
      '("TEXT" "PLAIN" ("NAME" "x" "CHARSET" "US-ASCII") NIL NIL "7BIT" 2 1)',
    );
  });

  it('gives the disposition, language and location of a multipart', () => {
    const message = [
      'Content-Type: multipart/related; boundary=r; type="text/html"',
      'Content-Disposition: inline; foo=bar',
      'Content-Language: fr',
      'Content-Location: cid:x',
      '',
      '--r',
      'Content-Type: application/octet-stream',
      '',
      'x',
      '--r--',
    ].join('\r\n');
    expect(syntaxOf(message)).toBe(
      '(("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 1 NIL NIL NIL NIL) "RELATED" ' +
        '("BOUNDARY" "r" "TYPE" "text/html") ("INLINE" ("FOO" "bar")) "fr" "cid:x")',
    );
  });

  it('reads Content-Language lists leniently', () => {
    const languageOf = (value: string) => {
      const structure = structureOf(`Content-Language: ${value}\r\n\r\nx`);
      return structure.kind === 'multipart' ? undefined : structure.extension?.language;
    };
    expect(languageOf('en-US')).toBe('en-US');
    expect(languageOf(' (comment) en ,, de , ')).toEqual(['en', 'de']);
    expect(languageOf('en fr')).toEqual(['en', 'fr']);
    expect(languageOf('(only a comment)')).toBeNull();
  });

  it('is plain JSON data without byte arrays', () => {
    const structure = structureOf(nested);
    expect(JSON.parse(JSON.stringify(structure))).toEqual(structure);
  });
});
