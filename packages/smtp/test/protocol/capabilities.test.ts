import { decodeLatin1, InvalidArgumentError, LimitExceededError, LineDecoder, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ehloReply,
  parseEhloReply,
  type SmtpCapabilities,
  SmtpExtension,
} from '../../src/protocol/capabilities.js';
import { ReplyAssembler, type SmtpReply, serializeReply } from '../../src/protocol/reply.js';

/** The one reply in a received transcript, through the core LineDecoder and the assembler. */
function receiveOne(transcript: string | Uint8Array): SmtpReply {
  const decoder = new LineDecoder();
  decoder.push(typeof transcript === 'string' ? utf8(transcript) : transcript);
  const assembler = new ReplyAssembler();
  let reply: SmtpReply | undefined;
  for (let event = decoder.next(); event; event = decoder.next()) {
    if (event.type !== 'line') throw new Error(`unexpected ${event.type} event`);
    reply = assembler.push(decodeLatin1(event.line));
  }
  if (!reply) throw new Error('no complete reply');
  return reply;
}

const parse = (transcript: string): SmtpCapabilities => parseEhloReply(receiveOne(transcript));

const none = {
  auth: [],
  pipelining: false,
  eightBitMime: false,
  binaryMime: false,
  chunking: false,
  smtputf8: false,
  dsn: false,
  startTls: false,
  enhancedStatusCodes: false,
  requireTls: false,
};

describe('parseEhloReply on real servers', () => {
  it('reads Postfix', () => {
    const capabilities = parse(
      '250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n' +
        '250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n',
    );
    expect(capabilities).toEqual({
      ...none,
      domain: 'mail.example.com',
      greeting: '',
      keywords: new Map([
        ['PIPELINING', []],
        ['SIZE', ['10240000']],
        ['VRFY', []],
        ['ETRN', []],
        ['STARTTLS', []],
        ['ENHANCEDSTATUSCODES', []],
        ['8BITMIME', []],
        ['DSN', []],
        ['SMTPUTF8', []],
        ['CHUNKING', []],
      ]),
      size: 10240000,
      pipelining: true,
      eightBitMime: true,
      chunking: true,
      smtputf8: true,
      dsn: true,
      startTls: true,
      enhancedStatusCodes: true,
    });
  });

  it('reads Gmail before and after STARTTLS', () => {
    const before = parse(
      '250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n' +
        '250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n',
    );
    expect(before).toMatchObject({
      domain: 'smtp.gmail.com',
      greeting: 'at your service, [203.0.113.5]',
      size: 35882577,
      auth: [],
      startTls: true,
      binaryMime: false,
      chunking: true,
    });
    const after = parse(
      '250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n' +
        '250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n' +
        '250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n',
    );
    expect(after.auth).toEqual(['LOGIN', 'PLAIN', 'XOAUTH2', 'PLAIN-CLIENTTOKEN', 'OAUTHBEARER', 'XOAUTH']);
    expect(after.startTls).toBe(false);
  });

  it('reads Exchange Online', () => {
    expect(
      parse(
        '250-LO4P123CA0001.outlook.office365.com Hello [203.0.113.5]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n' +
          '250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n' +
          '250 SMTPUTF8\r\n',
      ),
    ).toMatchObject({
      domain: 'LO4P123CA0001.outlook.office365.com',
      greeting: 'Hello [203.0.113.5]',
      size: 157286400,
      binaryMime: true,
      chunking: true,
      dsn: true,
    });
  });

  it('reads Exchange 2016 and keeps its private keywords', () => {
    const capabilities = parse(
      '250-EXCH01.corp.example.com Hello [192.0.2.10]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-DSN\r\n' +
        '250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n' +
        '250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-XRDST\r\n250 XSHADOWREQUEST\r\n',
    );
    expect(capabilities.auth).toEqual(['NTLM']);
    expect(capabilities.keywords.get('X-EXPS')).toEqual(['GSSAPI', 'NTLM']);
    expect(capabilities.keywords.get('X-ANONYMOUSTLS')).toEqual([]);
    expect([...capabilities.keywords.keys()].at(-1)).toBe('XSHADOWREQUEST');
  });

  it('reads Exchange 2003: `AUTH=LOGIN` beside `AUTH …`, a lower-case keyword, SIZE without a number, `250 OK`', () => {
    const capabilities = parse(
      '250-mail.example.com Hello [192.0.2.1]\r\n250-TURN\r\n250-SIZE\r\n250-ETRN\r\n250-PIPELINING\r\n250-DSN\r\n' +
        '250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-VRFY\r\n' +
        '250-X-EXPS GSSAPI NTLM LOGIN\r\n250-X-EXPS=LOGIN\r\n250-AUTH GSSAPI NTLM LOGIN\r\n250-AUTH=LOGIN\r\n' +
        '250-X-LINK2STATE\r\n250-XEXCH50\r\n250 OK\r\n',
    );
    expect(capabilities).toMatchObject({
      size: 0,
      eightBitMime: true,
      binaryMime: true,
      auth: ['GSSAPI', 'NTLM', 'LOGIN'],
    });
    expect(capabilities.keywords.get('AUTH')).toEqual(['GSSAPI', 'NTLM', 'LOGIN']);
    expect(capabilities.keywords.get('X-EXPS')).toEqual(['GSSAPI', 'NTLM', 'LOGIN']);
    expect(capabilities.keywords.get('OK')).toEqual([]);
  });

  it('reads sendmail', () => {
    const capabilities = parse(
      '250-castaway.example.net Hello localhost.localdomain [127.0.0.1], pleased to meet you\r\n' +
        '250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250-ETRN\r\n' +
        '250-AUTH GSSAPI DIGEST-MD5 CRAM-MD5\r\n250-DELIVERBY\r\n250 HELP\r\n',
    );
    expect(capabilities).toMatchObject({
      domain: 'castaway.example.net',
      greeting: 'Hello localhost.localdomain [127.0.0.1], pleased to meet you',
      size: 0,
      auth: ['GSSAPI', 'DIGEST-MD5', 'CRAM-MD5'],
    });
  });

  it('reads a one-line reply and an LHLO reply', () => {
    expect(parseEhloReply({ code: 250, lines: ['mx.example.org'] })).toEqual({
      ...none,
      domain: 'mx.example.org',
      greeting: '',
      keywords: new Map(),
    });
    expect(
      parse('250-lmtp.example.org\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n'),
    ).toMatchObject({
      domain: 'lmtp.example.org',
      pipelining: true,
      enhancedStatusCodes: true,
      eightBitMime: true,
    });
  });
});

describe('parseEhloReply leniency', () => {
  it('takes the old `AUTH=` form alone, or with no mechanism after it', () => {
    expect(parse('250-x\r\n250 AUTH=LOGIN PLAIN\r\n').auth).toEqual(['LOGIN', 'PLAIN']);
    expect(parse('250-x\r\n250 AUTH=\r\n').keywords.get('AUTH')).toEqual([]);
  });

  it('upper-cases keywords and mechanisms, and lists each mechanism once', () => {
    const capabilities = parse(
      '250-x\r\n250-starttls\r\n250-Auth login Plain\r\n250 auth=LOGIN cram-md5\r\n',
    );
    expect(capabilities.startTls).toBe(true);
    expect(capabilities.keywords.get('AUTH')).toEqual(['login', 'Plain', 'LOGIN', 'cram-md5']);
    expect(capabilities.auth).toEqual(['LOGIN', 'PLAIN', 'CRAM-MD5']);
  });

  it('ignores trailing spaces, tabs, several spaces and empty lines', () => {
    const capabilities = parse(
      '250-  mail.example.com   Hello  there  \r\n250-PIPELINING \r\n250-SIZE\t\t1000 \r\n250-\r\n250-   \r\n250 DSN\r\n',
    );
    expect(capabilities.domain).toBe('mail.example.com');
    expect(capabilities.greeting).toBe('Hello  there');
    expect([...capabilities.keywords]).toEqual([
      ['PIPELINING', []],
      ['SIZE', ['1000']],
      ['DSN', []],
    ]);
    expect(capabilities.size).toBe(1000);
  });

  it.each([
    ['SIZE 35882577', 35882577],
    ['SIZE 0', 0],
    ['SIZE', 0],
    ['SIZE abc', 0],
    ['SIZE -5', 0],
    ['SIZE 99999999999999999999', 0],
    ['SIZE 9007199254740991', 9007199254740991],
    ['size 1000 2000', 1000],
  ])('reads `%s` as size %d', (line, size) => {
    expect(parse(`250-x\r\n250 ${line}\r\n`).size).toBe(size);
  });

  it('leaves size out when SIZE is not announced', () => {
    expect(parse('250-x\r\n250 PIPELINING\r\n')).not.toHaveProperty('size');
  });

  it('reads LIMITS (RFC 9422), names in any case, and leaves malformed or unknown limits out', () => {
    expect(parse('250-x\r\n250 LIMITS RCPTMAX=100 MAILMAX=1000 RCPTDOMAINMAX=10\r\n').limits).toEqual({
      rcptMax: 100,
      mailMax: 1000,
      rcptDomainMax: 10,
    });
    expect(parse('250-x\r\n250 limits rcptmax=5 MailMax=999999\r\n').limits).toEqual({
      rcptMax: 5,
      mailMax: 999999,
    });
    expect(
      parse(
        '250-x\r\n250 LIMITS RCPTMAX=0 MAILMAX=0100 RCPTDOMAINMAX=1000000 RCPTMAX==5 MAILMAX RCPTMAX=x FUTURE=4 FLAG\r\n',
      ).limits,
    ).toEqual({});
    expect(parse('250-x\r\n250 LIMITS\r\n').limits).toEqual({});
    expect(parse('250-x\r\n250 PIPELINING\r\n')).not.toHaveProperty('limits');
  });

  it('counts BINARYMIME only together with CHUNKING, which BDAT needs (RFC 3030)', () => {
    const alone = parse('250-x\r\n250 BINARYMIME\r\n');
    expect(alone.binaryMime).toBe(false);
    expect(alone.keywords.has('BINARYMIME')).toBe(true);
    expect(parse('250-x\r\n250-BINARYMIME\r\n250 CHUNKING\r\n').binaryMime).toBe(true);
  });

  it('reads REQUIRETLS, DSN and SMTPUTF8', () => {
    expect(parse('250-x\r\n250-REQUIRETLS\r\n250-DSN\r\n250 SMTPUTF8\r\n')).toMatchObject({
      requireTls: true,
      dsn: true,
      smtputf8: true,
    });
  });

  it('refuses a reply that is not positive', () => {
    for (const code of [354, 421, 502, 550]) {
      expect(() => parseEhloReply({ code, lines: ['x'] })).toThrow(InvalidArgumentError);
    }
  });

  it('stops at 100 distinct keywords; a repeated keyword does not count again', () => {
    const lines = ['x', ...Array.from({ length: 100 }, (_, i) => `X-K${i}`)];
    expect(parseEhloReply({ code: 250, lines }).keywords.size).toBe(100);
    expect(
      parseEhloReply({ code: 250, lines: [...lines, 'X-K0 more', 'x-k1'] }).keywords.get('X-K0'),
    ).toEqual(['more']);
    expect(() => parseEhloReply({ code: 250, lines: [...lines, 'X-K100'] })).toThrow(LimitExceededError);
  });
});

describe('ehloReply', () => {
  it('writes the domain and greeting, then one upper-cased keyword per line', () => {
    const reply = ehloReply(
      'mail.example.com',
      'Hello client.example [192.0.2.1]',
      new Map([
        ['pipelining', []],
        [SmtpExtension.Size, ['10240000']],
        [SmtpExtension.Auth, ['PLAIN', 'LOGIN']],
        [SmtpExtension.Limits, ['RCPTMAX=100', 'MAILMAX=1000']],
        [SmtpExtension.EnhancedStatusCodes, []],
      ]),
    );
    expect(reply).toEqual({
      code: 250,
      lines: [
        'mail.example.com Hello client.example [192.0.2.1]',
        'PIPELINING',
        'SIZE 10240000',
        'AUTH PLAIN LOGIN',
        'LIMITS RCPTMAX=100 MAILMAX=1000',
        'ENHANCEDSTATUSCODES',
      ],
    });
    expect(decodeLatin1(serializeReply(reply))).toBe(
      '250-mail.example.com Hello client.example [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n' +
        '250-AUTH PLAIN LOGIN\r\n250-LIMITS RCPTMAX=100 MAILMAX=1000\r\n250 ENHANCEDSTATUSCODES\r\n',
    );
  });

  it('takes entries from any iterable, and writes one line when there are none', () => {
    expect(ehloReply('mx.example.org', '', [])).toEqual({ code: 250, lines: ['mx.example.org'] });
    expect(ehloReply('[192.0.2.1]', 'hi', [['DSN', []]])).toEqual({
      code: 250,
      lines: ['[192.0.2.1] hi', 'DSN'],
    });
  });

  it.each([
    ['an empty domain', '', []],
    ['a domain with a space', 'mail example', []],
    ['a domain with CRLF (a forged keyword)', 'mail\r\n250-AUTH PLAIN', []],
    ['a non-ASCII domain', 'mail.exämple.com', []],
    ['a keyword with an underscore', 'x', [['X_Y', []]]],
    ['a keyword starting with a dash', 'x', [['-X', []]]],
    ['the `AUTH=` form', 'x', [['AUTH=PLAIN', []]]],
    ['an empty keyword', 'x', [['', []]]],
    [
      'the same keyword twice in two cases',
      'x',
      [
        ['auth', ['PLAIN']],
        ['AUTH', ['LOGIN']],
      ],
    ],
    ['a parameter with a space', 'x', [['AUTH', ['PLAIN LOGIN']]]],
    ['an empty parameter', 'x', [['SIZE', ['']]]],
    ['a parameter with CRLF (a forged keyword)', 'x', [['AUTH', ['PLAIN\r\n250-STARTTLS']]]],
  ] as [string, string, [string, string[]][]][])('refuses %s', (_, domain, keywords) => {
    expect(() => ehloReply(domain, '', keywords)).toThrow(InvalidArgumentError);
  });

  it('leaves the greeting to serializeReply, which refuses CR and LF in it', () => {
    const reply = ehloReply('mail.example.com', 'hi\r\n250-AUTH PLAIN', []);
    expect(() => serializeReply(reply)).toThrow(InvalidArgumentError);
  });
});

describe('properties', () => {
  const keyword = fc.oneof(
    fc.constantFrom(...Object.values(SmtpExtension)),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,15}$/),
  );
  const param = fc.stringMatching(/^[\x21-\x7e]{1,20}$/);
  const keywords = fc.uniqueArray(fc.tuple(keyword, fc.array(param, { maxLength: 5 })), {
    selector: ([name]) => name.toUpperCase(),
    maxLength: 40,
  });
  const domain = fc.stringMatching(/^[\x21-\x7e]{1,60}$/);
  const greeting = fc.oneof(
    fc.constant(''),
    fc.stringMatching(/^[\x21-\x7e](?:[\x20-\x7e]{0,60}[\x21-\x7e])?$/),
  );

  function expectRoundTrip(
    capabilities: SmtpCapabilities,
    domainName: string,
    greetingText: string,
    entries: [string, string[]][],
  ): void {
    const announced = new Map(entries.map(([name, params]) => [name.toUpperCase(), params]));
    expect(capabilities.domain).toBe(domainName);
    expect(capabilities.greeting).toBe(greetingText);
    expect(capabilities.keywords).toEqual(announced);
    expect(capabilities.auth).toEqual([...new Set(announced.get('AUTH')?.map((name) => name.toUpperCase()))]);
    expect(capabilities.size !== undefined).toBe(announced.has('SIZE'));
    expect(capabilities.limits !== undefined).toBe(announced.has('LIMITS'));
    expect(capabilities.pipelining).toBe(announced.has('PIPELINING'));
    expect(capabilities.startTls).toBe(announced.has('STARTTLS'));
    expect(capabilities.chunking).toBe(announced.has('CHUNKING'));
    expect(capabilities.binaryMime).toBe(announced.has('BINARYMIME') && announced.has('CHUNKING'));
    expect(capabilities.enhancedStatusCodes).toBe(announced.has('ENHANCEDSTATUSCODES'));
  }

  it('parseEhloReply(ehloReply(…)) gives back what was announced', () => {
    fc.assert(
      fc.property(domain, greeting, keywords, (domainName, greetingText, entries) => {
        expectRoundTrip(
          parseEhloReply(ehloReply(domainName, greetingText, entries)),
          domainName,
          greetingText,
          entries,
        );
      }),
    );
  });

  it('so does the whole way: ehloReply, serializeReply, ReplyAssembler, parseEhloReply', () => {
    fc.assert(
      fc.property(domain, greeting, keywords, (domainName, greetingText, entries) => {
        const reply = receiveOne(serializeReply(ehloReply(domainName, greetingText, entries)));
        expectRoundTrip(parseEhloReply(reply), domainName, greetingText, entries);
      }),
    );
  });

  it('SIZE and LIMITS values round-trip', () => {
    const limit = fc.option(fc.integer({ min: 1, max: 999999 }), { nil: undefined });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        limit,
        limit,
        limit,
        (size, rcptMax, mailMax, rcptDomainMax) => {
          const limits = [
            ...(rcptMax === undefined ? [] : [`RCPTMAX=${rcptMax}`]),
            ...(mailMax === undefined ? [] : [`MAILMAX=${mailMax}`]),
            ...(rcptDomainMax === undefined ? [] : [`RCPTDOMAINMAX=${rcptDomainMax}`]),
          ];
          const capabilities = parseEhloReply(
            ehloReply('x', '', [
              [SmtpExtension.Size, [String(size)]],
              [SmtpExtension.Limits, limits],
            ]),
          );
          expect(capabilities.size).toBe(size);
          expect(capabilities.limits).toEqual({ rcptMax, mailMax, rcptDomainMax });
        },
      ),
    );
  });
});
