import { decodeLatin1, decodeUtf8, InvalidArgumentError } from '@postwire/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ComposeOptions, composeMessage, parseMessageSync } from '../../src/index.js';

async function compose(options: ComposeOptions): Promise<string> {
  return decodeUtf8(await composeMessage(options).bytes());
}

function headerBlock(message: string): string {
  return message.slice(0, message.indexOf('\r\n\r\n') + 2);
}

/** Every line ends in CRLF, and no line is over the hard limit of 998 characters. */
function expectWellFormed(message: string): void {
  expect(/\r(?!\n)|(?<!\r)\n/.test(message)).toBe(false);
  for (const line of message.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
}

const base: ComposeOptions = {
  from: '"Ann Example" <ann@example.com>',
  to: 'bob@example.org',
  subject: 'Hello',
  date: new Date('2026-11-24T10:00:00Z'),
  messageId: 'fixed@example.com',
};

describe('composeMessage', () => {
  it('writes a plain text message with the expected header fields', async () => {
    const message = await compose({ ...base, text: 'Hi Bob,\nsee you.\n' });
    expectWellFormed(message);
    const head = headerBlock(message);
    expect(head).toMatch(/^Date: Tue, 24 Nov 2026 10:00:00 \+0000\r\n/);
    expect(head).toContain('From: Ann Example <ann@example.com>\r\n');
    expect(head).toContain('To: bob@example.org\r\n');
    expect(head).toContain('Subject: Hello\r\n');
    expect(head).toContain('Message-ID: <fixed@example.com>\r\n');
    expect(head).toContain('MIME-Version: 1.0\r\n');
    expect(head).toContain('Content-Type: text/plain; charset=utf-8\r\n');
    expect(head).toContain('Content-Transfer-Encoding: 7bit\r\n');
    expect(message.endsWith('\r\n\r\nHi Bob,\r\nsee you.\r\n')).toBe(true);
  });

  it('gives the envelope A-label domains for ASCII local parts, and keeps a UTF-8 local part as written', () => {
    const composed = composeMessage({
      from: 'ann@bücher.de',
      to: ['bob@例え.jp', 'jürgen@bücher.de'],
      smtputf8: true,
      text: 'x',
    });
    expect(composed.envelope).toEqual({
      from: 'ann@xn--bcher-kva.de',
      to: ['bob@xn--r8jz45g.jp', 'jürgen@bücher.de'],
    });
    expect(composeMessage({ from: 'ann@bücher.de', to: 'bob@example.org', text: 'x' }).envelope.from).toBe(
      'ann@xn--bcher-kva.de',
    );
  });

  it('reports the envelope, Bcc included, and leaves Bcc out of the header unless asked', async () => {
    const composed = composeMessage({
      ...base,
      cc: 'Carol <carol@example.net>',
      bcc: 'dave@example.com',
      text: 'x',
    });
    expect(composed.envelope).toEqual({
      from: 'ann@example.com',
      to: ['bob@example.org', 'carol@example.net', 'dave@example.com'],
    });
    expect(composed.messageId).toBe('<fixed@example.com>');
    expect(decodeUtf8(await composed.bytes())).not.toMatch(/^Bcc:/m);
    expect(await compose({ ...base, bcc: 'dave@example.com', keepBcc: true, text: 'x' })).toMatch(
      /^Bcc: dave@example\.com\r$/m,
    );
  });

  it('generates a Message-ID at the A-label form of an internationalised sender domain', () => {
    const { messageId } = composeMessage({ from: 'ann@bücher.example', text: 'x' });
    expect(messageId).toMatch(/^<[0-9a-f]{32}@xn--bcher-kva\.example>$/);
  });

  it('generates a Message-ID at the sender domain when none is given', () => {
    const { messageId } = composeMessage({ from: 'ann@example.com', text: 'x' });
    expect(messageId).toMatch(/^<[0-9a-f]{32}@example\.com>$/);
  });

  it('chooses alternative, related and mixed by what it is given', async () => {
    const message = await compose({
      ...base,
      text: 'plain',
      html: '<p>rich <img src="cid:logo@x"></p>',
      attachments: [
        {
          content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]),
          filename: 'logo.png',
          contentId: 'logo@x',
        },
        { content: 'a,b\n1,2\n', filename: 'data.csv' },
      ],
    });
    expectWellFormed(message);
    const types = [...message.matchAll(/^Content-Type: ([^;\r]+)/gm)].map((match) => match[1]);
    expect(types).toEqual([
      'multipart/mixed',
      'multipart/alternative',
      'text/plain',
      'multipart/related',
      'text/html',
      'image/png',
      'text/csv',
    ]);
    expect(message).toContain('Content-Disposition: inline; filename=logo.png');
    expect(message).toContain('Content-ID: <logo@x>');
    expect(message).toMatch(/Content-Disposition: attachment; filename=data\.csv/);
  });

  it('encodes a non-ASCII subject as encoded words, or writes it raw with SMTPUTF8', async () => {
    const subject = 'Grüße aus Köln — 東京 ✉';
    const encoded = headerBlock(await compose({ ...base, subject, text: 'x' }));
    expect(encoded).toMatch(/^Subject: =\?utf-8\?[BQ]\?/im);
    expect(/[^\x00-\x7f]/.test(encoded)).toBe(false);
    const raw = headerBlock(await compose({ ...base, subject, text: 'x', smtputf8: true }));
    expect(raw).toContain(`Subject: ${subject}\r\n`);
  });

  it('folds long header fields at whitespace within 78 columns', async () => {
    const subject = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const to = Array.from({ length: 20 }, (_, i) => `person${i}@example.org`).join(', ');
    const head = headerBlock(await compose({ ...base, subject, to, text: 'x' }));
    for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const unfolded = head.replace(/\r\n(?=[ \t])/g, '');
    expect(unfolded).toContain(`Subject: ${subject}\r\n`);
    expect(unfolded).toContain(`To: ${to}\r\n`);
  });

  it('picks 7bit, 8bit, quoted-printable and base64 per part', async () => {
    const umlauts = 'Grüße aus Köln, bis bald!\n'.repeat(3);
    expect(await compose({ ...base, text: umlauts })).toContain(
      'Content-Transfer-Encoding: quoted-printable',
    );
    expect(await compose({ ...base, text: umlauts, eightBit: true })).toContain(
      'Content-Transfer-Encoding: 8bit',
    );
    expect(await compose({ ...base, text: 'x'.repeat(2000) })).toContain(
      'Content-Transfer-Encoding: quoted-printable',
    );
    const binary = await compose({
      ...base,
      attachments: [{ content: new Uint8Array(300).fill(0xff), filename: 'a.bin' }],
    });
    expect(binary).toContain('Content-Transfer-Encoding: base64');
    expectWellFormed(binary);
  });

  it('sends text as 8bit on an SMTPUTF8 path, which is 8-bit clean by RFC 6531', async () => {
    const message = await compose({ ...base, text: 'Grüße aus Köln, bis bald!\n', smtputf8: true });
    expect(message).toContain('Content-Transfer-Encoding: 8bit');
    const refused = await compose({
      ...base,
      text: 'Grüße aus Köln, bis bald!\n',
      smtputf8: true,
      eightBit: false,
    });
    expect(refused).toContain('Content-Transfer-Encoding: quoted-printable');
  });

  it('sends an ASCII attachment in CRLF lines as 7bit, and any other as base64', async () => {
    const crlfText = await compose({
      ...base,
      attachments: [{ content: 'a,b\r\n1,2\r\n', filename: 'a.csv' }],
    });
    expect(crlfText).toMatch(/filename=a\.csv\r\nContent-Transfer-Encoding: 7bit/);
    const bareLf = await compose({ ...base, attachments: [{ content: 'a,b\n1,2\n', filename: 'a.csv' }] });
    expect(bareLf).toMatch(/filename=a\.csv\r\nContent-Transfer-Encoding: base64/);
    const longLine = await compose({
      ...base,
      attachments: [{ content: 'x'.repeat(999), filename: 'a.csv' }],
    });
    expect(longLine).toMatch(/filename=a\.csv\r\nContent-Transfer-Encoding: base64/);
  });

  it('streams attachments given as async iterables and web streams', async () => {
    async function* pieces() {
      yield new Uint8Array([1, 2, 3]);
      yield new Uint8Array([4, 5]);
    }
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([6, 7, 8]));
        controller.close();
      },
    });
    const composed = composeMessage({
      ...base,
      text: 'see attached',
      attachments: [
        { content: pieces(), filename: 'one.bin' },
        { content: stream, filename: 'two.bin' },
      ],
    });
    const chunks: Uint8Array[] = [];
    const reader = composed.stream().getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(read.value);
    const message = chunks.map((chunk) => decodeLatin1(chunk)).join('');
    expect(message).toContain('AQIDBAU=');
    expect(message).toContain('BgcI');
  });

  describe('case 30: no header injection', () => {
    const injections: [string, ComposeOptions][] = [
      ['a subject with CRLF', { ...base, subject: 'x\r\nBcc: v@x' }],
      ['a subject with a bare LF', { ...base, subject: 'x\nBcc: v@x' }],
      ['a subject with a bare CR', { ...base, subject: 'x\rBcc: v@x' }],
      [
        'a display name with CRLF',
        { ...base, to: [{ name: 'Bob\r\nBcc: v@x', address: 'bob@example.org' }] },
      ],
      ['an address with CRLF', { ...base, to: [{ name: '', address: 'bob@example.org\r\nBcc: v@x' }] }],
      ['a filename with CRLF', { ...base, attachments: [{ content: 'x', filename: 'a.txt"\r\nBcc: v@x' }] }],
      ['a custom header value with CRLF', { ...base, headers: { 'X-Note': 'a\r\nBcc: v@x' } }],
      ['a custom header name with a colon', { ...base, headers: { 'X-Note: x\r\nBcc': 'v@x' } }],
      ['a message id with CRLF', { ...base, messageId: 'a@b>\r\nBcc: <v@x' }],
      [
        'a content type with CRLF',
        { ...base, attachments: [{ content: 'x', contentType: 'text/plain\r\nBcc: v@x' }] },
      ],
    ];
    for (const [label, options] of injections) {
      it(`refuses ${label}`, () => {
        expect(() => composeMessage({ text: 'x', ...options })).toThrow(InvalidArgumentError);
      });
    }

    it('keeps an encoded word that decodes to CRLF from becoming a line break', async () => {
      const head = headerBlock(await compose({ ...base, subject: '=?utf-8?q?a=0D=0ABcc:_x?=', text: 'x' }));
      expect(head).not.toMatch(/^Bcc:/m);
      expect(/\r\n[^ \t]|\r[^\n]|[^\r]\n/.test(head.replace(/\r\n(?=[A-Z][\w-]*:)|\r\n$/g, ''))).toBe(false);
    });
  });

  it('refuses structural fields among the custom headers', () => {
    expect(() => composeMessage({ ...base, headers: { 'Content-Type': 'text/html' } })).toThrow(
      InvalidArgumentError,
    );
  });

  it('case 42: an HTML body with a pathological data: URL is carried as it is, in linear time', async () => {
    const html = `<img src="data:${';'.repeat(100_000)}">`;
    const message = await compose({ ...base, html });
    expect(message).toContain('Content-Type: text/html; charset=utf-8');
    expectWellFormed(message);
  });
  describe('review regressions', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('folds a quoted display name whole and writes no white-space-only line', async () => {
      const name = 'Very Long Display Name With Many Words In It, Surely Over The Limit';
      const head = headerBlock(
        await compose({
          ...base,
          to: [{ name, address: 'x@y.z' }],
          subject: `a${' '.repeat(200)}b`,
          text: 'x',
        }),
      );
      expect(head).toContain(`"${name}"`);
      expect(head).not.toMatch(/\r\n[ \t]*\r\n(?!$)/);
      expect(head).not.toMatch(/^[ \t]+$/m);
    });

    it('refuses custom header fields that duplicate the fields it writes, Bcc included', () => {
      for (const name of ['From', 'bcc', 'To', 'Subject', 'Message-ID', 'Date', 'References', 'Sender']) {
        expect(() => composeMessage({ ...base, text: 'x', headers: { [name]: 'evil@example.net' } })).toThrow(
          InvalidArgumentError,
        );
      }
      expect(() => composeMessage({ ...base, text: 'x', headers: { 'X-Mailer': 'postwire' } })).not.toThrow();
    });

    it('checks Bcc address objects although they only reach the envelope (SMTP injection)', () => {
      for (const address of ['b@c> NOTIFY=SUCCESS', 'b@c\r\nRCPT TO:<x@y>', 'not an address']) {
        expect(() => composeMessage({ ...base, text: 'x', bcc: [{ name: '', address }] })).toThrow(
          InvalidArgumentError,
        );
      }
    });

    it('needs a Sender for a From of several mailboxes or a group, and sends from it (RFC 5322 §3.6.2)', () => {
      expect(() => composeMessage({ ...base, from: 'a@example.com, b@example.com', text: 'x' })).toThrow(
        InvalidArgumentError,
      );
      expect(() =>
        composeMessage({ ...base, from: 'Team: a@example.com, b@example.com;', text: 'x' }),
      ).toThrow(InvalidArgumentError);
      const composed = composeMessage({
        ...base,
        from: 'Team: a@example.com, b@example.com;',
        sender: 'secretary@example.org',
        messageId: undefined,
        text: 'x',
      });
      expect(composed.envelope.from).toBe('secretary@example.org');
      expect(composed.messageId).toMatch(/@example\.org>$/);
      expect(() => composeMessage({ ...base, sender: 'a@example.com, b@example.com', text: 'x' })).toThrow(
        InvalidArgumentError,
      );
    });

    it('refuses message ids a reader would cut short, and raw UTF-8 ones without SMTPUTF8', () => {
      for (const id of ['a(b)@c', 'a"b@c', 'a,b@c', 'a;b@c', 'a\\b@c', 'ü@example.com', '', '<>']) {
        expect(() => composeMessage({ ...base, messageId: id, text: 'x' }), id).toThrow(InvalidArgumentError);
        expect(
          () => composeMessage({ ...base, text: 'x', attachments: [{ content: 'x', contentId: id }] }),
          id,
        ).toThrow(InvalidArgumentError);
      }
      expect(
        composeMessage({ ...base, messageId: 'ü@example.com', smtputf8: true, text: 'x' }).messageId,
      ).toBe('<ü@example.com>');
      expect(composeMessage({ ...base, messageId: '<a.b@[127.0.0.1]>', text: 'x' }).messageId).toBe(
        '<a.b@[127.0.0.1]>',
      );
    });

    it('reads References written without white space between the ids', async () => {
      const head = headerBlock(await compose({ ...base, references: '<a@x><b@y> <c@z>', text: 'x' }));
      expect(head).toContain('References: <a@x> <b@y> <c@z>\r\n');
    });

    it('refuses attachment content types with unbalanced quotes, raw 8-bit text or a multipart type', () => {
      for (const contentType of [
        'text/plain; x="abc',
        'text/plain; x=ü',
        'multipart/mixed',
        'text/plain;;',
        'text',
      ]) {
        expect(
          () =>
            composeMessage({
              ...base,
              text: 'x',
              attachments: [{ content: 'x', contentType, filename: 'f.txt' }],
            }),
          contentType,
        ).toThrow(InvalidArgumentError);
      }
      expect(() =>
        composeMessage({
          ...base,
          text: 'x',
          attachments: [{ content: 'x', contentType: 'application/x-thing; a=b ;c="d \\"e\\""' }],
        }),
      ).not.toThrow();
    });

    it('case 42: checks a pathological content type in linear time', () => {
      for (const contentType of [`data:${';'.repeat(100_000)}`, `text/plain${'; a=b'.repeat(20_000)};`]) {
        expect(() => composeMessage({ ...base, attachments: [{ content: 'x', contentType }] })).toThrow(
          InvalidArgumentError,
        );
      }
    });

    it('refuses a disposition other than attachment or inline from untyped callers', () => {
      const disposition = 'attachment\r\nBcc: v@x' as 'attachment';
      expect(() =>
        composeMessage({ ...base, text: 'x', attachments: [{ content: 'x', disposition }] }),
      ).toThrow(InvalidArgumentError);
    });

    it('sends message/rfc822 as 7bit or 8bit, never base64 or quoted-printable (RFC 2046 §5.2.1)', async () => {
      const inner = 'Subject: inner\nFrom: a@example.com\n\n\u001b$B$3$s\u001b(B\n';
      const seven = await compose({
        ...base,
        text: 'x',
        attachments: [{ content: inner, contentType: 'message/rfc822', filename: 'fwd.eml' }],
      });
      expect(seven).toMatch(
        /filename=fwd\.eml\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nFrom:/,
      );
      const parsed = parseMessageSync(new TextEncoder().encode(seven));
      expect(parsed.attachments[0]?.contentType).toBe('message/rfc822');

      const eight = new TextEncoder().encode('Subject: Grüße\r\n\r\nKöln\r\n');
      const attachments = [{ content: eight, contentType: 'message/rfc822' }];
      expect(await compose({ ...base, text: 'x', eightBit: true, attachments })).toContain(
        'Content-Transfer-Encoding: 8bit\r\n\r\nSubject: Gr',
      );
      expect(() => composeMessage({ ...base, text: 'x', attachments })).toThrow(InvalidArgumentError);
      const withNul = new Uint8Array([0x53, 0x3a, 0x20, 0, 13, 10, 13, 10]);
      expect(() =>
        composeMessage({
          ...base,
          text: 'x',
          eightBit: true,
          attachments: [{ content: withNul, contentType: 'message/rfc822' }],
        }),
      ).toThrow(InvalidArgumentError);
      const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
      expect(() =>
        composeMessage({
          ...base,
          text: 'x',
          attachments: [{ content: stream, contentType: 'message/rfc822' }],
        }),
      ).toThrow(InvalidArgumentError);
      expect(
        await compose({
          ...base,
          text: 'x',
          attachments: [{ content: eight, contentType: 'message/global' }],
        }),
      ).toContain(
        'Content-Type: message/global\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64',
      );
    });

    it('draws another boundary when a body sent as it is holds one', async () => {
      const zeros = `=_pw_${'00'.repeat(12)}`;
      let calls = 0;
      vi.spyOn(crypto, 'getRandomValues').mockImplementation(
        <T extends ArrayBufferView | null>(array: T): T => {
          if (array instanceof Uint8Array) array.fill(calls++ < 2 ? 0 : 0xab);
          return array;
        },
      );
      const message = await compose({ ...base, text: `--${zeros}\n`, html: `<p>--${zeros}--</p>` });
      expect(message).toContain(`multipart/alternative; boundary="=_pw_${'ab'.repeat(12)}"`);
      expect(message).not.toMatch(new RegExp(`boundary="${zeros}"`));
      expect(parseMessageSync(new TextEncoder().encode(message)).text).toBe(`--${zeros}\r\n`);
    });

    it('labels a text attachment given as a string as UTF-8', async () => {
      const message = await compose({
        ...base,
        text: 'x',
        attachments: [{ content: 'Grüße', filename: 'a.txt' }],
      });
      expect(message).toContain('Content-Type: text/plain; charset=utf-8; name=a.txt\r\n');
      expect(
        await compose({
          ...base,
          text: 'x',
          attachments: [{ content: 'x', contentType: 'text/csv; charset=latin1' }],
        }),
      ).toContain('Content-Type: text/csv; charset=latin1\r\n');
    });

    it('reads a web stream through its reader, where it is not async-iterable', async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array([1, 2, 3]));
          controller.close();
        },
      });
      Object.defineProperty(stream, Symbol.asyncIterator, { value: undefined });
      const message = await compose({
        ...base,
        text: 'x',
        attachments: [{ content: stream, filename: 'a.bin' }],
      });
      expect(message).toContain('\r\n\r\nAQID\r\n');
    });
  });
});
