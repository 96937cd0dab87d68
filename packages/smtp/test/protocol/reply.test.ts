import {
  decodeLatin1,
  decodeUtf8,
  InvalidArgumentError,
  LimitExceededError,
  LineDecoder,
  ProtocolError,
  utf8,
} from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isIntermediate,
  isPermanentFailure,
  isPositive,
  isTransientFailure,
  ReplyAssembler,
  replyText,
  type SmtpReply,
  serializeReply,
} from '../../src/protocol/reply.js';

/** Runs received bytes through the core LineDecoder and the assembler, as the client does. */
function receive(transcript: string | Uint8Array, assembler = new ReplyAssembler()): SmtpReply[] {
  const decoder = new LineDecoder();
  decoder.push(typeof transcript === 'string' ? utf8(transcript) : transcript);
  const replies: SmtpReply[] = [];
  for (let event = decoder.next(); event; event = decoder.next()) {
    if (event.type !== 'line') throw new Error(`unexpected ${event.type} event`);
    const reply = assembler.push(decodeUtf8(event.line));
    if (reply) replies.push(reply);
  }
  return replies;
}

function wire(reply: SmtpReply): string {
  return decodeLatin1(serializeReply(reply));
}

describe('serializeReply', () => {
  it('writes one line as `code SP text CRLF`', () => {
    expect(wire({ code: 250, lines: ['mail.example.com'] })).toBe('250 mail.example.com\r\n');
    expect(wire({ code: 221, enhancedCode: '2.0.0', lines: ['Bye'] })).toBe('221 2.0.0 Bye\r\n');
  });

  it('writes `code-` on every line but the last, and the enhanced code on each (RFC 2034 §4)', () => {
    const reply: SmtpReply = {
      code: 550,
      enhancedCode: '5.7.0',
      lines: [
        'Spammer access rejected',
        'Please see our policy at:',
        'http://www.example.com/spampolicy.html',
      ],
    };
    expect(wire(reply)).toBe(
      '550-5.7.0 Spammer access rejected\r\n' +
        '550-5.7.0 Please see our policy at:\r\n' +
        '550 5.7.0 http://www.example.com/spampolicy.html\r\n',
    );
  });

  it('writes an empty last text as the bare code, and an empty continuation as `code-`', () => {
    expect(wire({ code: 250, lines: [''] })).toBe('250\r\n');
    // RFC 4954 §4: an empty SASL challenge is still `334` SP.
    expect(wire({ code: 334, lines: [''] })).toBe('334 \r\n');
    expect(wire({ code: 250, lines: ['', ''] })).toBe('250-\r\n250\r\n');
    expect(wire({ code: 250, enhancedCode: '2.0.0', lines: ['', ''] })).toBe('250-2.0.0\r\n250 2.0.0\r\n');
    expect(wire({ code: 354, lines: ['Start mail input; end with <CRLF>.<CRLF>'] })).toBe(
      '354 Start mail input; end with <CRLF>.<CRLF>\r\n',
    );
  });

  it('keeps spaces and tabs inside the text as given', () => {
    expect(wire({ code: 250, enhancedCode: '2.0.0', lines: [' OK  1700000000\tx '] })).toBe(
      '250 2.0.0  OK  1700000000\tx \r\n',
    );
  });

  it.each([
    ['a CRLF that would forge a second reply', 'OK\r\n250 forged'],
    ['a bare LF', 'OK\n250 forged'],
    ['a bare CR', 'OK\r250 forged'],
    ['NUL', 'OK\0'],
    ['DEL', 'OK\x7f'],
    ['ESC', '\x1b[31mred'],
    ['non-ASCII text', 'déjà vu'],
    ['a lone surrogate', '\ud800'],
  ])('refuses %s in the text', (_, text) => {
    expect(() => serializeReply({ code: 250, lines: [text] })).toThrow(InvalidArgumentError);
    expect(() => serializeReply({ code: 550, lines: ['first', text] })).toThrow(InvalidArgumentError);
  });

  it.each([199, 100, 600, 999, 0, -250, 260, 299 + 0.5, Number.NaN])('refuses the code %s', (code) => {
    expect(() => serializeReply({ code, lines: ['x'] })).toThrow(InvalidArgumentError);
  });

  it('accepts the codes of the grammar', () => {
    for (const code of [
      200, 211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452, 455, 500, 559,
    ]) {
      expect(wire({ code, lines: ['x'] })).toBe(`${code} x\r\n`);
    }
  });

  it.each([
    [250, '5.1.1', 'a class that differs from the code'],
    [550, '2.0.0', 'a class that differs from the code'],
    [354, '3.0.0', 'an enhanced code on a 3xx reply (there is no class 3)'],
    [334, '2.0.0', 'an enhanced code on a 3xx reply'],
    [250, '2.0', 'two parts'],
    [250, '2.0.0.0', 'four parts'],
    [250, '2.1000.0', 'a four-digit subject'],
    [250, '2.0.1000', 'a four-digit detail'],
    [250, '2.0.0 ', 'a trailing space'],
    [250, '2.a.0', 'a letter'],
    [250, '', 'an empty string'],
  ])('refuses the enhanced code %s/%s: %s', (code, enhancedCode) => {
    expect(() => serializeReply({ code, enhancedCode, lines: ['x'] })).toThrow(InvalidArgumentError);
  });

  it('refuses a reply with no lines or more than 100', () => {
    expect(() => serializeReply({ code: 250, lines: [] })).toThrow(InvalidArgumentError);
    expect(() => serializeReply({ code: 250, lines: Array(101).fill('x') })).toThrow(InvalidArgumentError);
    expect(wire({ code: 250, lines: Array(100).fill('x') }).split('\r\n')).toHaveLength(101);
  });

  it('refuses a line longer than 512 octets with its code and CRLF (RFC 5321 §4.5.3.1.5)', () => {
    const longest = wire({ code: 250, lines: ['x'.repeat(506)] });
    expect(longest).toHaveLength(512);
    expect(() => serializeReply({ code: 250, lines: ['x'.repeat(507)] })).toThrow(InvalidArgumentError);
    expect(wire({ code: 550, enhancedCode: '5.7.1', lines: ['x'.repeat(500), 'y'] })).toHaveLength(512 + 13);
    expect(() => serializeReply({ code: 550, enhancedCode: '5.7.1', lines: ['x'.repeat(501), 'y'] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => serializeReply({ code: 550, enhancedCode: '5.7.1', lines: ['y', 'x'.repeat(501)] })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('ReplyAssembler', () => {
  it('returns a reply at its last line and undefined before', () => {
    const assembler = new ReplyAssembler();
    expect(assembler.push('250-first')).toBeUndefined();
    expect(assembler.push('250-second')).toBeUndefined();
    expect(assembler.push('250 third')).toEqual({ code: 250, lines: ['first', 'second', 'third'] });
    expect(assembler.push('221 Bye')).toEqual({ code: 221, lines: ['Bye'] });
  });

  it('reads a Postfix session, enhanced codes split off once ENHANCEDSTATUSCODES is announced', () => {
    const assembler = new ReplyAssembler();
    const [greeting, ehlo] = receive(
      '220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n' +
        '250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n' +
        '250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n',
      assembler,
    );
    expect(greeting).toEqual({ code: 220, lines: ['mail.example.com ESMTP Postfix (Debian/GNU)'] });
    expect(ehlo?.lines).toEqual([
      'mail.example.com',
      'PIPELINING',
      'SIZE 10240000',
      'VRFY',
      'ETRN',
      'STARTTLS',
      'ENHANCEDSTATUSCODES',
      '8BITMIME',
      'DSN',
      'SMTPUTF8',
      'CHUNKING',
    ]);
    assembler.enhancedStatusCodes = true;
    expect(assembler.enhancedStatusCodes).toBe(true);
    expect(
      receive(
        '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n' +
          '250 2.0.0 Ok: queued as 4XyZ1abc\r\n554 5.7.1 <v@example.net>: Relay access denied\r\n221 2.0.0 Bye\r\n',
        assembler,
      ),
    ).toEqual([
      { code: 250, enhancedCode: '2.1.0', lines: ['Ok'] },
      { code: 250, enhancedCode: '2.1.5', lines: ['Ok'] },
      { code: 354, lines: ['End data with <CR><LF>.<CR><LF>'] },
      { code: 250, enhancedCode: '2.0.0', lines: ['Ok: queued as 4XyZ1abc'] },
      { code: 554, enhancedCode: '5.7.1', lines: ['<v@example.net>: Relay access denied'] },
      { code: 221, enhancedCode: '2.0.0', lines: ['Bye'] },
    ]);
  });

  it("reads Gmail's multiline rejections, keeping the second space of its last lines", () => {
    const replies = receive(
      '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n' +
        "550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
        '550-5.1.1 unnecessary spaces. For more information, go to\r\n' +
        '550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1-20020a17si123456plh.100 - gsmtp\r\n' +
        '421-4.7.0 Try again later, closing connection. (EHLO)\r\n' +
        '421-4.7.0  For more information, go to\r\n' +
        '421 4.7.0  https://support.google.com/a/answer/3221692 a1si123456plh.100 - gsmtp\r\n',
    );
    expect(replies).toEqual([
      {
        code: 550,
        enhancedCode: '5.1.1',
        lines: [
          'The email account that you tried to reach does not exist. Please try',
          "double-checking the recipient's email address for typos or",
          'unnecessary spaces. For more information, go to',
          ' https://support.google.com/mail/?p=NoSuchUser a1-20020a17si123456plh.100 - gsmtp',
        ],
      },
      {
        code: 421,
        enhancedCode: '4.7.0',
        lines: [
          'Try again later, closing connection. (EHLO)',
          ' For more information, go to',
          ' https://support.google.com/a/answer/3221692 a1si123456plh.100 - gsmtp',
        ],
      },
    ]);
    expect(replyText(replies[0]!)).toMatch(/^The email account .* - gsmtp$/);
  });

  it("reads Gmail's and Exchange's one-line replies: 3xx text kept whole, 2- and 3-digit details", () => {
    const assembler = new ReplyAssembler();
    assembler.enhancedStatusCodes = true;
    expect(
      receive(
        '220 smtp.gmail.com ESMTP a1si123456plh.100 - gsmtp\r\n334 VXNlcm5hbWU6\r\n235 2.7.0 Accepted\r\n' +
          '354  Go ahead a1si123456plh.100 - gsmtp\r\n250 2.0.0 OK  1700000000 a1si123456plh.100 - gsmtp\r\n' +
          '530 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM\r\n' +
          '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.\r\n',
        assembler,
      ),
    ).toEqual([
      { code: 220, lines: ['smtp.gmail.com ESMTP a1si123456plh.100 - gsmtp'] },
      { code: 334, lines: ['VXNlcm5hbWU6'] },
      { code: 235, enhancedCode: '2.7.0', lines: ['Accepted'] },
      { code: 354, lines: [' Go ahead a1si123456plh.100 - gsmtp'] },
      { code: 250, enhancedCode: '2.0.0', lines: ['OK  1700000000 a1si123456plh.100 - gsmtp'] },
      {
        code: 530,
        enhancedCode: '5.7.57',
        lines: ['Client was not authenticated to send anonymous mail during MAIL FROM'],
      },
      {
        code: 550,
        enhancedCode: '5.7.708',
        lines: ['Service unavailable. Access denied, traffic not accepted from this IP.'],
      },
    ]);
  });

  it('without ENHANCEDSTATUSCODES, splits an enhanced code off only when every line carries the same one', () => {
    const assembler = new ReplyAssembler();
    expect(assembler.enhancedStatusCodes).toBe(false);
    expect(assembler.push('250 2.0.0 Ok')).toEqual({ code: 250, enhancedCode: '2.0.0', lines: ['Ok'] });
    assembler.push('550-5.1.1 first');
    expect(assembler.push('550 second')).toEqual({ code: 550, lines: ['5.1.1 first', 'second'] });
    assembler.push('550-5.1.1 first');
    expect(assembler.push('550 5.1.2 second')).toEqual({ code: 550, lines: ['5.1.1 first', '5.1.2 second'] });
    assembler.push('550-first');
    expect(assembler.push('550 5.1.1 second')).toEqual({ code: 550, lines: ['first', '5.1.1 second'] });
  });

  it('with ENHANCEDSTATUSCODES, takes the first line’s code and removes it wherever it is repeated', () => {
    const assembler = new ReplyAssembler();
    assembler.enhancedStatusCodes = true;
    assembler.push('550-5.1.1 first');
    expect(assembler.push('550 second')).toEqual({
      code: 550,
      enhancedCode: '5.1.1',
      lines: ['first', 'second'],
    });
    assembler.push('550-5.1.1 first');
    expect(assembler.push('550 5.1.2 second')).toEqual({
      code: 550,
      enhancedCode: '5.1.1',
      lines: ['first', '5.1.2 second'],
    });
    expect(assembler.push('250 2.0.0')).toEqual({ code: 250, enhancedCode: '2.0.0', lines: [''] });
  });

  it.each([
    ['250 5.0.0 class of another code', { code: 250, lines: ['5.0.0 class of another code'] }],
    ['354 3.0.0 no class 3', { code: 354, lines: ['3.0.0 no class 3'] }],
    ['550 5.7.1234 four digits', { code: 550, lines: ['5.7.1234 four digits'] }],
    ['550 5.7.1: no space after', { code: 550, lines: ['5.7.1: no space after'] }],
    ['550 5.7 two parts', { code: 550, lines: ['5.7 two parts'] }],
    ['550 05.7.1 leading zero class', { code: 550, lines: ['05.7.1 leading zero class'] }],
  ])('does not take %j for an enhanced code', (line, expected) => {
    for (const on of [false, true]) {
      const assembler = new ReplyAssembler();
      assembler.enhancedStatusCodes = on;
      expect(assembler.push(line)).toEqual(expected);
    }
  });

  it('accepts a last line of the bare code, an empty text, and keeps trailing spaces', () => {
    const assembler = new ReplyAssembler();
    expect(assembler.push('250')).toEqual({ code: 250, lines: [''] });
    expect(assembler.push('250 ')).toEqual({ code: 250, lines: [''] });
    assembler.push('250-');
    expect(assembler.push('250 OK  ')).toEqual({ code: 250, lines: ['', 'OK  '] });
    expect(assembler.push('599 any third digit')).toEqual({ code: 599, lines: ['any third digit'] });
    expect(assembler.push('290 second digit beyond 5')).toEqual({
      code: 290,
      lines: ['second digit beyond 5'],
    });
  });

  it('accepts text that is not ASCII or not UTF-8, as servers send it (QQ Mail sends GBK)', () => {
    const gbk = new Uint8Array([...utf8('535 Error: '), 0xc7, 0xeb, 0xca, 0xb9, 0x0d, 0x0a]);
    const replacement = decodeUtf8(gbk.subarray(11, 15));
    expect(replacement).toContain('\ufffd');
    expect(receive(gbk)).toEqual([{ code: 535, lines: [`Error: ${replacement}`] }]);
    expect(receive('550 5.1.1 Adresse inconnue: déjà\r\n')).toEqual([
      { code: 550, enhancedCode: '5.1.1', lines: ['Adresse inconnue: déjà'] },
    ]);
  });

  it.each([
    ['an empty line', ''],
    ['a one-digit line', '2'],
    ['a short line', '25'],
    ['letters for a code', 'abc hello'],
    ['a letter in the code', '25a ok'],
    ['a letter in the middle', '2x0 ok'],
    ['a full-width digit', '25\uff10 ok'],
    ['a 1yz code', '150 preliminary'],
    ['a 6yz code', '650 x'],
    ['a 0yz code', '050 x'],
    ['a four-digit code', '2500 ok'],
    ['no separator', '250ok'],
    ['an underscore separator', '250_ok'],
    ['a tab separator', '250\tok'],
    ['a leading space', ' 250 ok'],
    ['a CR inside (response injection)', '250 ok\r250 injected'],
    ['an LF inside (response injection)', '250 ok\n250 injected'],
  ])('refuses %s', (_, line) => {
    expect(() => new ReplyAssembler().push(line)).toThrow(ProtocolError);
  });

  it('refuses a continuation with another code, then starts afresh', () => {
    const assembler = new ReplyAssembler();
    expect(assembler.push('250-first')).toBeUndefined();
    expect(() => assembler.push('251 second')).toThrow(ProtocolError);
    expect(assembler.push('250-again')).toBeUndefined();
    expect(() => assembler.push('550 other')).toThrow(/a 550 line continues a 250 reply/);
    expect(assembler.push('250 fresh')).toEqual({ code: 250, lines: ['fresh'] });
  });

  it('refuses a malformed line in the middle of a reply and drops the partial reply', () => {
    const assembler = new ReplyAssembler();
    assembler.push('250-first');
    expect(() => assembler.push('oops')).toThrow(ProtocolError);
    expect(assembler.push('220 greeting')).toEqual({ code: 220, lines: ['greeting'] });
  });

  it('stops a 1000-line reply at line 101 with LimitExceededError', () => {
    const assembler = new ReplyAssembler();
    for (let i = 0; i < 100; i++) expect(assembler.push(`250-line ${i}`)).toBeUndefined();
    let error: unknown;
    try {
      for (let i = 100; i < 1000; i++) assembler.push(`250-line ${i}`);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxLines', max: 100 });
    expect(assembler.push('250 after')).toEqual({ code: 250, lines: ['after'] });
  });

  it('takes its line limit from maxLines, and refuses one that is not a positive integer', () => {
    const wide = new ReplyAssembler({ maxLines: 1000 });
    for (let i = 0; i < 999; i++) wide.push('250-x');
    expect(wide.push('250 last')?.lines).toHaveLength(1000);
    const narrow = new ReplyAssembler({ maxLines: 2 });
    narrow.push('250-a');
    narrow.push('250-b');
    expect(() => narrow.push('250 c')).toThrow(LimitExceededError);
    for (const maxLines of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ReplyAssembler({ maxLines })).toThrow(InvalidArgumentError);
    }
  });

  it('never joins lines after a last line to it (case 7: a reply injected behind the greeting)', () => {
    const replies = receive('220 Ready\r\n250-x\r\n250 AUTH LOGIN\r\n');
    expect(replies).toEqual([
      { code: 220, lines: ['Ready'] },
      { code: 250, lines: ['x', 'AUTH LOGIN'] },
    ]);
  });

  it('keeps pipelined replies apart (RFC 2920)', () => {
    expect(
      receive('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <x@example.com>: unknown\r\n354 Go ahead\r\n'),
    ).toEqual([
      { code: 250, enhancedCode: '2.1.0', lines: ['Ok'] },
      { code: 250, enhancedCode: '2.1.5', lines: ['Ok'] },
      { code: 550, enhancedCode: '5.1.1', lines: ['<x@example.com>: unknown'] },
      { code: 354, lines: ['Go ahead'] },
    ]);
  });
});

describe('reply classes and text', () => {
  const reply = (code: number): SmtpReply => ({ code, lines: ['x'] });

  it('tells positive, intermediate, transient and permanent replies apart (RFC 5321 §4.2.1)', () => {
    const classes = (code: number) =>
      [isPositive, isIntermediate, isTransientFailure, isPermanentFailure].map((is) => is(reply(code)));
    expect(classes(250)).toEqual([true, false, false, false]);
    expect(classes(220)).toEqual([true, false, false, false]);
    expect(classes(354)).toEqual([false, true, false, false]);
    expect(classes(334)).toEqual([false, true, false, false]);
    expect(classes(421)).toEqual([false, false, true, false]);
    expect(classes(454)).toEqual([false, false, true, false]);
    expect(classes(550)).toEqual([false, false, false, true]);
  });

  it('counts none of 502, 454 or `354 do something else` after STARTTLS as success (case 8)', () => {
    for (const line of [
      '502 5.5.1 Command not implemented',
      '454 4.7.0 TLS not available',
      '354 do something else',
    ]) {
      const answer = new ReplyAssembler().push(line)!;
      expect(isPositive(answer), line).toBe(false);
    }
  });

  it('joins the lines with a space and leaves the codes out', () => {
    expect(
      replyText({ code: 550, enhancedCode: '5.7.0', lines: ['Spammer access rejected', 'see policy'] }),
    ).toBe('Spammer access rejected see policy');
    expect(replyText({ code: 250, lines: [''] })).toBe('');
  });
});

describe('properties', () => {
  const LEADING_ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;
  const textChar = fc.oneof(
    { weight: 1, arbitrary: fc.constant('\t') },
    { weight: 30, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  );
  /** Up to the longest text that fits any line: 512 − `250-` − `5.999.999 ` − CRLF. */
  const text = fc.oneof(
    fc.string({ unit: textChar, maxLength: 40 }),
    fc.string({ unit: textChar, minLength: 480, maxLength: 496 }),
    fc
      .stringMatching(/^[245]\.\d{1,3}\.\d{1,3}( .*)?$/)
      .filter((s) => s.length <= 496 && !/[^\t\x20-\x7e]/.test(s)),
  );
  const replyArbitrary: fc.Arbitrary<SmtpReply> = fc
    .record({
      code: fc
        .tuple(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 59 }))
        .map(([c, yz]) => c * 100 + yz),
      subject: fc.option(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }))),
      lines: fc.array(text, { minLength: 1, maxLength: 12 }),
    })
    .map(({ code, subject, lines }) => {
      const replyClass = Math.trunc(code / 100);
      return subject === null || replyClass === 3
        ? { code, lines }
        : { code, enhancedCode: `${replyClass}.${subject[0]}.${subject[1]}`, lines };
    })
    // Without an enhanced code, a first line that starts like one is read as one: not a reply to generate.
    .filter((reply) => reply.enhancedCode !== undefined || !LEADING_ENHANCED_CODE.test(reply.lines[0]!));

  it('serializeReply, split on CRLF and pushed into ReplyAssembler, gives the reply back', () => {
    fc.assert(
      fc.property(replyArbitrary, fc.boolean(), (reply, enhancedStatusCodes) => {
        const lines = decodeLatin1(serializeReply(reply)).split('\r\n');
        expect(lines.pop()).toBe('');
        const assembler = new ReplyAssembler();
        assembler.enhancedStatusCodes = enhancedStatusCodes;
        const results = lines.map((line) => assembler.push(line));
        expect(results.slice(0, -1).every((result) => result === undefined)).toBe(true);
        expect(results.at(-1)).toEqual(reply);
      }),
    );
  });

  it('serializeReply writes only reply-code lines of at most 512 octets, `-` on all but the last', () => {
    fc.assert(
      fc.property(replyArbitrary, (reply) => {
        const bytes = serializeReply(reply);
        expect(bytes.every((byte) => byte < 0x80)).toBe(true);
        const lines = decodeLatin1(bytes).split('\r\n').slice(0, -1);
        expect(lines).toHaveLength(reply.lines.length);
        lines.forEach((line, index) => {
          expect(line.length + 2).toBeLessThanOrEqual(512);
          expect(line).toMatch(index === lines.length - 1 ? /^[2-5][0-5]\d(?: |$)/ : /^[2-5][0-5]\d-/);
        });
      }),
    );
  });

  it('ReplyAssembler fails only with ProtocolError or LimitExceededError, whatever the lines', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc
        .tuple(
          fc.constantFrom('250', '251', '550', '2x0', '25'),
          fc.constantFrom('-', ' ', '', '\t'),
          fc.string(),
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (lines, maxLines) => {
        const assembler = new ReplyAssembler({ maxLines });
        for (const input of lines) {
          try {
            const reply = assembler.push(input);
            if (reply) expect(reply.lines.length).toBeLessThanOrEqual(maxLines);
          } catch (error) {
            expect(error instanceof ProtocolError || error instanceof LimitExceededError).toBe(true);
          }
        }
      }),
    );
  });
});
