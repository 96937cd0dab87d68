import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { receivedHeader, receivedProtocol } from '../../src/server/received.js';
import {
  type SmtpServerEvent,
  SmtpServerSession,
  type SmtpServerSessionOptions,
} from '../../src/server/session.js';
import { Driver, decoder, encoder, GREETING } from './driver.js';

describe('SmtpServerSession: a transaction', () => {
  it('greets, answers EHLO with its extensions, and takes a message', () => {
    const driver = new Driver();
    expect(driver.output).toBe(GREETING);
    expect(driver.send('EHLO client.test\r\n')).toBe(
      '250-mx.test greets client.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n' +
        '250-LIMITS RCPTMAX=1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-CHUNKING\r\n250 BINARYMIME\r\n',
    );
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('250 2.1.0 Sender OK\r\n');
    expect(driver.send('RCPT TO:<c@d.test>\r\n')).toBe('250 2.1.5 Recipient OK\r\n');
    expect(driver.send('DATA\r\n')).toBe('354 End data with <CR><LF>.<CR><LF>\r\n');
    expect(driver.send('Subject: x\r\n\r\n..dot\r\n', 'body\r\n.\r\n')).toBe(
      '250 2.0.0 Message accepted\r\n',
    );
    expect(driver.messages).toEqual(['Subject: x\r\n\r\n.dot\r\nbody\r\n']);
    expect(driver.send('QUIT\r\n')).toBe('221 2.0.0 mx.test Bye\r\n');
    expect(driver.closed).toBe(true);
  });

  it('answers pipelined MAIL, RCPT and DATA in order (RFC 2920)', () => {
    const driver = new Driver();
    driver.send('EHLO client.test\r\n');
    expect(driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n')).toBe(
      '250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n',
    );
  });

  it('lets the application refuse with its own replies (greylisting)', () => {
    const driver = new Driver(
      {},
      {
        rcpt: (event) =>
          event.type === 'rcpt' && event.to.address === 'grey@d.test'
            ? { code: 451, enhancedCode: '4.7.1', lines: ['Greylisted, try again later'] }
            : undefined,
      },
    );
    driver.send('EHLO c\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    expect(driver.send('RCPT TO:<grey@d.test>\r\n')).toBe('451 4.7.1 Greylisted, try again later\r\n');
    expect(driver.send('DATA\r\n')).toBe('554 5.5.1 No valid recipients\r\n');
  });

  it('refuses commands out of sequence with 503 5.5.1', () => {
    const driver = new Driver();
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('503 5.5.1 Send HELO/EHLO first\r\n');
    driver.send('HELO c\r\n');
    expect(driver.send('RCPT TO:<c@d.test>\r\n')).toBe('503 5.5.1 Need MAIL before RCPT\r\n');
    expect(driver.send('DATA\r\n')).toBe('503 5.5.1 Need MAIL before DATA\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('503 5.5.1 Nested MAIL command\r\n');
    expect(driver.send('RSET\r\n')).toBe('250 2.0.0 Reset\r\n');
    expect(driver.send('RCPT TO:<c@d.test>\r\n')).toBe('503 5.5.1 Need MAIL before RCPT\r\n');
  });

  it('answers NOOP, HELP, VRFY and EXPN, and refuses unknown parameters with 555', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(driver.send('HELP\r\n')).toBe('214 2.0.0 See RFC 5321\r\n');
    expect(driver.send('VRFY bob\r\n')).toBe(
      '252 2.5.2 Cannot verify the user, but will accept the message\r\n',
    );
    expect(driver.send('MAIL FROM:<a@b.test> X-UNKNOWN=1\r\n')).toBe(
      '555 5.5.4 Unsupported MAIL parameter\r\n',
    );
    const noChunking = new Driver({ chunking: false });
    noChunking.send('EHLO c\r\n');
    expect(noChunking.send('MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n')).toBe(
      '555 5.5.4 BINARYMIME not offered\r\n',
    );
    expect(driver.send('BOGUS\r\n')).toBe('500 5.5.2 Command not recognized\r\n');
  });
});

describe('SmtpServerSession: smuggling and hostile clients', () => {
  const smuggled = [
    '\n.\n',
    '\n.\r',
    '\r.\n',
    '\r.\r',
    '\n.\r\n',
    '\r.\r\n',
    '\r\n.\n',
    '\r\n.\r',
    '\r\n\x00.\r\n',
  ];

  for (const ending of smuggled) {
    it(`case 1: ${JSON.stringify(ending)} does not end DATA, and no second transaction appears`, () => {
      for (const bareLineEndings of ['reject', 'normalize'] as const) {
        const driver = new Driver({ bareLineEndings });
        driver.send('EHLO c\r\n');
        driver.send('MAIL FROM:<a@b.test>\r\n');
        driver.send('RCPT TO:<c@d.test>\r\n');
        driver.send('DATA\r\n');
        const reply = driver.send(
          `Subject: one\r\n\r\nhello${ending}mail FROM:<s@x.test>\r\nrcpt TO:<v@y.test>\r\ndata\r\nsmuggled\r\n`,
          '.\r\n',
        );
        expect(driver.messages.length + driver.aborts.length, bareLineEndings).toBe(1);
        if (bareLineEndings === 'reject' && /\r(?!\n)|(?<!\r)\n/.test(ending)) {
          expect(reply).toBe('550 5.5.2 Bare CR or LF in message text\r\n');
          expect(driver.aborts).toEqual(['bare-line-ending']);
        } else {
          expect(reply).toBe('250 2.0.0 Message accepted\r\n');
          expect(driver.messages[0]).toContain('mail FROM:<s@x.test>');
        }
        expect(driver.closed).toBe(false);
      }
    });
  }

  it('case 2: a bare CR or LF in a command ends the session in reject mode (521), and is a line end in normalize mode', () => {
    const strict = new Driver();
    expect(strict.send('RSET\rQUIT\r\n')).toBe('521 5.5.2 Bare CR or LF received\r\n');
    expect(strict.closed).toBe(true);
    const lenient = new Driver({ bareLineEndings: 'normalize' });
    expect(lenient.send('EHLO c\n')).toMatch(/^250-mx.test/);
    expect(lenient.closed).toBe(false);
  });

  it('case 3: commands pipelined behind the end of a message, or without PIPELINING, end the session with 554 5.5.0', () => {
    const behindDot = new Driver();
    behindDot.send('EHLO c\r\n');
    behindDot.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    expect(behindDot.send('body\r\n.\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\n')).toBe(
      '554 5.5.0 Error: SMTP protocol synchronization\r\n',
    );
    expect(behindDot.messages).toEqual([]);
    expect(behindDot.closed).toBe(true);

    const helo = new Driver();
    helo.send('HELO c\r\n');
    expect(helo.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n')).toBe(
      '554 5.5.0 Error: SMTP protocol synchronization\r\n',
    );
    const early = new Driver();
    expect(early.send('EHLO c\r\nMAIL FROM:<a@b.test>\r\n')).toBe(
      '554 5.5.0 Error: SMTP protocol synchronization\r\n',
    );
  });

  it('case 6: input pipelined behind STARTTLS is discarded, and the session starts afresh after TLS', () => {
    const driver = new Driver({ startTls: true });
    expect(driver.send('EHLO c\r\n')).toContain('250 STARTTLS\r\n');
    expect(driver.send('STARTTLS\r\nRSET\r\nMAIL FROM:<a@b.test>\r\n')).toBe(
      '220 2.0.0 Ready to start TLS\r\n',
    );
    expect(driver.startTls).toBe(1);
    expect(driver.session.secure).toBe(true);
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('503 5.5.1 Send HELO/EHLO first\r\n');
    expect(driver.send('EHLO c\r\n')).not.toContain('STARTTLS');
    expect(driver.send('STARTTLS\r\n')).toBe('502 5.5.1 STARTTLS not available\r\n');
  });

  it('case 50: a command line over 510 octets gets 500 5.5.6; a message line over 998 aborts the message', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.send(`NOOP ${'x'.repeat(510)}\r\n`)).toBe('500 5.5.6 Line too long\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    driver.send('RCPT TO:<c@d.test>\r\n');
    driver.send('DATA\r\n');
    expect(driver.send(`${'y'.repeat(999)}\r\n.\r\n`)).toBe('500 5.5.6 Line too long in message text\r\n');
    expect(driver.aborts).toEqual(['line-too-long']);
    expect(driver.send('RCPT TO:<c@d.test>\r\n')).toBe('503 5.5.1 Need MAIL before RCPT\r\n');
  });

  it('case 51: the 20th bad command ends the session with 421', () => {
    const driver = new Driver();
    let output = '';
    for (let i = 0; i < 20; i++) output += driver.send('BOGUS\r\n');
    expect(output.split('\r\n').filter(Boolean)).toHaveLength(21);
    expect(output.endsWith('421 4.7.0 mx.test Too many errors\r\n')).toBe(true);
    expect(driver.closed).toBe(true);
  });

  it('case 52: a recipient past the limit gets 452 4.5.3; a declared size over the limit 552 5.3.4', () => {
    const driver = new Driver({ limits: { recipients: 3 } });
    driver.send('EHLO c\r\n');
    expect(driver.send('MAIL FROM:<a@b.test> SIZE=99999999999\r\n')).toBe(
      '552 5.3.4 Message size exceeds fixed limit\r\n',
    );
    driver.send('MAIL FROM:<a@b.test>\r\n');
    const replies = driver.send(
      'RCPT TO:<1@d.test>\r\nRCPT TO:<2@d.test>\r\nRCPT TO:<3@d.test>\r\nRCPT TO:<4@d.test>\r\n',
    );
    expect(replies.split('\r\n').filter(Boolean).at(-1)).toBe('452 4.5.3 Too many recipients');
  });

  it('aborts a message the moment it passes the size limit, and replies 552 after its end', () => {
    const driver = new Driver({ limits: { messageSize: 20 } });
    driver.send('EHLO c\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    driver.send('RCPT TO:<c@d.test>\r\n');
    driver.send('DATA\r\n');
    expect(driver.send('0123456789\r\n', '0123456789\r\n', 'more\r\n.\r\n')).toBe(
      '552 5.3.4 Message size exceeds fixed limit\r\n',
    );
    expect(driver.aborts).toEqual(['size']);
    expect(driver.messages).toEqual([]);
  });

  it('refuses a command that is not valid UTF-8', () => {
    const driver = new Driver();
    driver.session.receive(new Uint8Array([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff, 0x0d, 0x0a]));
    driver.drain();
    expect(driver.output.slice(GREETING.length)).toBe('500 5.5.2 Command is not valid UTF-8\r\n');
  });

  it('ends with 421 4.3.2 on shutdown', () => {
    const driver = new Driver();
    driver.session.shutdown();
    driver.drain();
    expect(driver.output.slice(GREETING.length)).toBe('421 4.3.2 mx.test Service shutting down\r\n');
    expect(driver.closed).toBe(true);
  });
});

describe('SmtpServerSession: CHUNKING (BDAT)', () => {
  function transaction(options: Partial<SmtpServerSessionOptions> = {}, mail = 'MAIL FROM:<a@b.test>') {
    const driver = new Driver(options);
    driver.send('EHLO c\r\n');
    driver.send(`${mail}\r\nRCPT TO:<c@d.test>\r\n`);
    return driver;
  }

  it('takes a message in chunks, and BDAT 0 LAST', () => {
    const driver = transaction();
    expect(driver.send('BDAT 12\r\nSubject: x', '\r\n')).toBe('250 2.0.0 12 octets received\r\n');
    expect(driver.send('BDAT 6 LAST\r\nbody\r\n')).toBe('250 2.0.0 Message accepted\r\n');
    expect(driver.messages).toEqual(['Subject: x\r\nbody\r\n']);
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n');
    expect(driver.send('BDAT 3\r\nabcBDAT 0 LAST\r\n')).toBe(
      '250 2.0.0 3 octets received\r\n250 2.0.0 Message accepted\r\n',
    );
    expect(driver.messages[1]).toBe('abc');
  });

  it('reads the bytes of a refused BDAT, so that none is taken as a command', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    const chunk = 'MAIL FROM:<s@x.test>\r\nRCPT TO:<v@y.test>\r\n';
    expect(driver.send(`BDAT ${chunk.length} LAST\r\n${chunk}`)).toBe('503 5.5.1 Need MAIL before BDAT\r\n');
    expect(driver.send('RCPT TO:<v@y.test>\r\n')).toBe('503 5.5.1 Need MAIL before RCPT\r\n');
    const noChunking = new Driver({ chunking: false });
    noChunking.send('EHLO c\r\n');
    expect(noChunking.send(`BDAT ${chunk.length}\r\n${chunk}`)).toBe('502 5.5.1 BDAT not available\r\n');
  });

  it('refuses DATA after BDAT, and DATA for BINARYMIME (RFC 3030)', () => {
    const driver = transaction();
    driver.send('BDAT 2\r\nab');
    expect(driver.send('DATA\r\n')).toBe('503 5.5.1 DATA cannot follow BDAT, nor carry BINARYMIME\r\n');
    const binary = transaction({}, 'MAIL FROM:<a@b.test> BODY=BINARYMIME');
    expect(binary.send('DATA\r\n')).toBe('503 5.5.1 DATA cannot follow BDAT, nor carry BINARYMIME\r\n');
  });

  it('case 5: a bare LF in BDAT text is refused in reject mode, made CRLF in normalize mode, and kept in BINARYMIME', () => {
    const strict = transaction();
    expect(strict.send('BDAT 4\r\na\nb\n', 'BDAT 0 LAST\r\n')).toBe(
      '550 5.5.2 Bare CR or LF in message text\r\n503 5.5.1 Need MAIL before BDAT\r\n',
    );
    expect(strict.aborts).toEqual(['bare-line-ending']);
    const split = transaction();
    expect(split.send('BDAT 2\r\na\r', 'BDAT 2 LAST\r\n\nb')).toBe(
      '250 2.0.0 2 octets received\r\n250 2.0.0 Message accepted\r\n',
    );
    expect(split.messages).toEqual(['a\r\nb']);
    const lenient = transaction({ bareLineEndings: 'normalize' });
    lenient.send('BDAT 4 LAST\r\na\nb\n');
    expect(lenient.messages).toEqual(['a\r\nb\r\n']);
    const binary = transaction({}, 'MAIL FROM:<a@b.test> BODY=BINARYMIME');
    binary.send('BDAT 4 LAST\r\na\nb\r');
    expect(binary.messages).toEqual(['a\nb\r']);
  });

  it('gives up a message past the size limit, counting every chunk', () => {
    const driver = transaction({ limits: { messageSize: 8 } });
    expect(driver.send('BDAT 5\r\n12345')).toBe('250 2.0.0 5 octets received\r\n');
    expect(driver.send('BDAT 5 LAST\r\n67890')).toBe('552 5.3.4 Message size exceeds fixed limit\r\n');
    expect(driver.aborts).toEqual(['size']);
  });

  it('RFC 3030: discards the chunks pipelined behind a failed BDAT without counting them as bad commands', () => {
    const driver = transaction({ limits: { messageSize: 8, badCommands: 5 } });
    const chunks = [...Array.from({ length: 8 }, () => 'BDAT 5\r\n12345'), 'BDAT 5 LAST\r\n12345'];
    const replies = driver.send(chunks.join(''));
    expect(replies.split('\r\n').slice(0, 2)).toEqual([
      '250 2.0.0 5 octets received',
      '552 5.3.4 Message size exceeds fixed limit',
    ]);
    expect(replies).not.toContain('421');
    expect(driver.closed).toBe(false);
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('250 2.1.0 Sender OK\r\n');
  });

  it('replies per recipient after BDAT LAST in LMTP', () => {
    const driver = new Driver({ protocol: 'lmtp' });
    driver.send('LHLO c\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\n');
    expect(driver.send('BDAT 2 LAST\r\nhi')).toBe(
      '250 2.0.0 Message accepted\r\n250 2.0.0 Message accepted\r\n',
    );
  });
});

describe('SmtpServerSession: the Received header', () => {
  it('prepends Received with the client, the protocol of RFC 3848 and the one recipient', () => {
    const driver = new Driver({ receivedHeader: true, remoteAddress: '192.0.2.7' });
    driver.send('EHLO client.test\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    expect(driver.messages[0]).toMatch(
      /^Received: from client\.test \(client\.test \[192\.0\.2\.7\]\)\r\n\tby mx\.test \(Postwire\) with ESMTP id [0-9A-F]{12}\r\n\tfor <c@d\.test>; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\nSubject: x\r\n\r\nbody\r\n$/,
    );
  });

  it('names the protocol: SMTP, ESMTPS, ESMTPSA, LMTP, UTF8SMTP', () => {
    const protocol = (
      lmtp: boolean,
      extended: boolean,
      secure: boolean,
      authenticated: boolean,
      utf8: boolean,
    ) => receivedProtocol({ lmtp, extended, secure, authenticated, utf8 });
    expect(protocol(false, false, false, false, false)).toBe('SMTP');
    expect(protocol(false, true, true, false, false)).toBe('ESMTPS');
    expect(protocol(false, true, true, true, false)).toBe('ESMTPSA');
    expect(protocol(true, true, false, false, false)).toBe('LMTP');
    expect(protocol(false, true, true, true, true)).toBe('UTF8SMTPSA');
  });

  it('leaves out several recipients, and keeps the header one line per field with an IPv6 literal', () => {
    const header = new TextDecoder().decode(
      receivedHeader({
        clientName: 'odd(name)',
        remoteAddress: '2001:db8::1',
        hostname: 'mx.test',
        lmtp: false,
        extended: true,
        secure: false,
        authenticated: false,
        utf8: false,
        id: 'ID',
        date: new Date(0),
      }),
    );
    expect(header).toBe(
      'Received: from odd(name) (odd?name? [IPv6:2001:db8::1])\r\n\tby mx.test (Postwire) with ESMTP id ID; Thu, 1 Jan 1970 00:00:00 +0000\r\n',
    );
  });
});

describe('SmtpServerSession: AUTH', () => {
  it('offers AUTH only when mechanisms are available (after TLS here), and runs challenges', () => {
    const steps: SmtpServerEvent[] = [];
    const session = new SmtpServerSession({ hostname: 'mx.test', authMechanisms: () => ['PLAIN', 'LOGIN'] });
    session.markSecure();
    const out: string[] = [];
    const pump = (input?: string) => {
      if (input) session.receive(encoder.encode(input));
      for (let event = session.next(); event; event = session.next()) {
        if (event.type === 'write') out.push(decoder.decode(event.data));
        else if (event.type === 'helo') session.respond();
        else steps.push(event);
      }
    };
    pump('EHLO c\r\n');
    expect(out.join('')).toContain('250 AUTH PLAIN LOGIN\r\n');
    pump('AUTH LOGIN\r\n');
    expect(steps.at(-1)).toEqual({ type: 'auth', mechanism: 'LOGIN' });
    session.authStep({ type: 'challenge', text: 'VXNlcm5hbWU6' });
    pump();
    expect(out.at(-1)).toBe('334 VXNlcm5hbWU6\r\n');
    pump('YWxpY2U=\r\n');
    expect(steps.at(-1)).toEqual({ type: 'auth-response', line: 'YWxpY2U=' });
    session.authStep({ type: 'success', username: 'alice' });
    pump();
    expect(out.at(-1)).toBe('235 2.7.0 Authentication successful\r\n');
    expect(session.user).toBe('alice');
    pump('AUTH PLAIN =\r\n');
    expect(out.at(-1)).toBe('503 5.5.1 Already authenticated\r\n');
  });

  it('maps SASL failures to RFC 4954 replies (case 45: 538 5.7.11 without TLS)', () => {
    for (const [reason, expected] of [
      ['encryption-required', '538 5.7.11 Encryption required for requested authentication mechanism'],
      ['invalid-credentials', '535 5.7.8 Authentication credentials invalid'],
      ['cancelled', '501 5.0.0 Authentication cancelled'],
      ['mechanism-unavailable', '504 5.5.4 Unrecognized authentication type'],
      ['throttled', '454 4.7.0 Too many failed attempts, try again later'],
    ] as const) {
      const session = new SmtpServerSession({ hostname: 'mx.test', authMechanisms: () => ['PLAIN'] });
      let written = '';
      const pump = (input?: string) => {
        if (input) session.receive(encoder.encode(input));
        for (let event = session.next(); event; event = session.next()) {
          if (event.type === 'write') written = decoder.decode(event.data);
          else if (event.type === 'helo') session.respond();
        }
      };
      pump('EHLO c\r\n');
      pump('AUTH PLAIN AGEAYg==\r\n');
      session.authStep({ type: 'failure', reason });
      pump();
      expect(written).toBe(`${expected}\r\n`);
    }
  });

  it('refuses AUTH where it is not offered, and MAIL before AUTH in submission (530 5.7.0)', () => {
    const plain = new Driver();
    plain.send('EHLO c\r\n');
    expect(plain.send('AUTH PLAIN =\r\n')).toBe('503 5.5.1 AUTH not available\r\n');
    expect(plain.send('MAIL FROM:<a@b.test> AUTH=<>\r\n')).toBe('555 5.5.4 Unsupported MAIL parameter\r\n');
    const submission = new Driver({ requireAuth: true, authMechanisms: () => ['PLAIN'] });
    submission.send('EHLO c\r\n');
    expect(submission.send('MAIL FROM:<a@b.test>\r\n')).toBe('530 5.7.0 Authentication required\r\n');
  });

  it('takes an AUTH line as long as a SASL response may be, but no other command that long', () => {
    const session = new SmtpServerSession({ hostname: 'mx.test', authMechanisms: () => ['XOAUTH2'] });
    const events: SmtpServerEvent[] = [];
    const pump = (input: string) => {
      session.receive(encoder.encode(input));
      for (let event = session.next(); event; event = session.next()) {
        if (event.type === 'helo') session.respond();
        else events.push(event);
      }
    };
    pump('EHLO c\r\n');
    const token = 'A'.repeat(4000);
    pump(`AUTH XOAUTH2 ${token}\r\n`);
    expect(events.at(-1)).toEqual({ type: 'auth', mechanism: 'XOAUTH2', initialResponse: token });
  });
});

describe('SmtpServerSession: LMTP', () => {
  it('needs LHLO and gives one reply per recipient after the message', () => {
    const driver = new Driver(
      { protocol: 'lmtp' },
      {
        'message-end': () => [
          { code: 250, enhancedCode: '2.1.5', lines: ['a delivered'] },
          { code: 452, enhancedCode: '4.2.2', lines: ['b is over quota'] },
        ],
      },
    );
    expect(driver.output).toBe('220 mx.test LMTP Postwire\r\n');
    expect(driver.send('EHLO c\r\n')).toBe('500 5.5.1 LMTP needs LHLO\r\n');
    expect(driver.send('LHLO c\r\n')).toMatch(/^250-mx.test greets c\r\n/);
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<a@d.test>\r\nRCPT TO:<b@d.test>\r\nDATA\r\n');
    expect(driver.send('hi\r\n.\r\n')).toBe('250 2.1.5 a delivered\r\n452 4.2.2 b is over quota\r\n');
  });

  it('refuses a wrong number of replies for the recipients, and stays ready for the right one', () => {
    const session = new SmtpServerSession({ hostname: 'mx.test', protocol: 'lmtp', receivedHeader: false });
    session.receive(encoder.encode('LHLO c\r\n'));
    const answerAll = () => {
      for (let event = session.next(); event; event = session.next()) {
        if (event.type !== 'write' && event.type !== 'message-data') session.respond();
      }
    };
    answerAll();
    session.receive(
      encoder.encode('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n'),
    );
    answerAll();
    session.receive(encoder.encode('x\r\n.\r\n'));
    let end = session.next();
    while (end && end.type !== 'message-end') end = session.next();
    const ok = { code: 250, enhancedCode: '2.0.0', lines: ['ok'] };
    expect(() => session.respond([ok])).toThrow(/one reply per recipient \(2\)/);
    // A reply that cannot be written is refused before anything is: the first, valid one stays unsaid.
    expect(() => session.respond([ok, { code: 250, lines: ['a\r\nb'] }])).toThrow(/reply text/);
    session.respond([ok, ok]);
    expect(new TextDecoder().decode((session.next() as { data: Uint8Array }).data)).toBe('250 2.0.0 ok\r\n');
    expect(new TextDecoder().decode((session.next() as { data: Uint8Array }).data)).toBe('250 2.0.0 ok\r\n');
    expect(session.next()).toBeUndefined();
  });

  it('refuses LHLO from an SMTP client', () => {
    expect(new Driver().send('LHLO c\r\n')).toBe('500 5.5.1 Command not recognized\r\n');
  });
});

describe('SmtpServerSession: any chunking', () => {
  it('gives the same transcript and message however each flight is cut', () => {
    const flights = [
      'EHLO client.test\r\n',
      'MAIL FROM:<a@b.test> SIZE=100\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n',
      'Subject: cut\r\n\r\n..leading dot\r\nline two\r\n.\r\n',
      'RSET\r\nNOOP\r\n',
      'QUIT\r\n',
    ];
    const whole = new Driver();
    for (const flight of flights) whole.send(flight);
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat(), { maxLength: 6 }), {
          minLength: flights.length,
          maxLength: flights.length,
        }),
        (cutsPerFlight) => {
          const driver = new Driver();
          flights.forEach((flight, index) => {
            const cuts = [...new Set(cutsPerFlight[index]!.map((cut) => cut % flight.length))].sort(
              (a, b) => a - b,
            );
            const chunks = [0, ...cuts, flight.length]
              .slice(0, -1)
              .map((start, i, starts) => flight.slice(start, starts[i + 1] ?? flight.length));
            driver.send(...chunks.filter(Boolean));
          });
          expect(driver.output).toBe(whole.output);
          expect(driver.messages).toEqual(whole.messages);
        },
      ),
    );
  });
});
