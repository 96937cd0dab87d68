import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseCommand,
  type SmtpCommand,
  SmtpCommandError,
  serializeCommand,
} from '../../src/protocol/command.js';
import { mailboxFromAddress } from '../../src/protocol/path.js';

function refused(line: string, options = {}): SmtpCommandError {
  try {
    parseCommand(line, options);
  } catch (error) {
    expect(error).toBeInstanceOf(SmtpCommandError);
    return error as SmtpCommandError;
  }
  throw new Error(`${JSON.stringify(line)} was accepted`);
}

describe('parseCommand', () => {
  it('reads verbs in any case and refuses unknown ones with 500 5.5.2', () => {
    expect(parseCommand('ehlo client.example')).toEqual({ verb: 'EHLO', domain: 'client.example' });
    expect(parseCommand('LHLO [192.0.2.1]')).toEqual({ verb: 'LHLO', domain: '[192.0.2.1]' });
    expect(parseCommand('QuIt')).toEqual({ verb: 'QUIT' });
    expect(refused('BLAH x')).toMatchObject({ replyCode: 500, enhancedCode: '5.5.2' });
    expect(refused('')).toMatchObject({ replyCode: 500 });
  });

  it('refuses missing or extra arguments with 501 5.5.4', () => {
    for (const line of [
      'EHLO',
      'HELO  ',
      'EHLO two words',
      'DATA now',
      'RSET x',
      'VRFY',
      'STARTTLS please',
    ]) {
      expect(refused(line), line).toMatchObject({ replyCode: 501, enhancedCode: '5.5.4' });
    }
    expect(parseCommand('NOOP hello')).toEqual({ verb: 'NOOP', argument: 'hello' });
    expect(parseCommand('HELP')).toEqual({ verb: 'HELP' });
    expect(parseCommand('VRFY postmaster')).toEqual({ verb: 'VRFY', argument: 'postmaster' });
  });

  it('reads MAIL FROM with every parameter it knows, and keeps the others', () => {
    const command = parseCommand(
      'MAIL FROM:<alice@example.org> size=1000 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B1 AUTH=<> REQUIRETLS X-Extra=1',
    );
    expect(command).toEqual({
      verb: 'MAIL',
      from: mailboxFromAddress('alice@example.org'),
      parameters: {
        size: 1000,
        body: '8BITMIME',
        smtputf8: true,
        ret: 'HDRS',
        envid: 'QQ+1',
        auth: null,
        requireTls: true,
        other: new Map([['X-EXTRA', '1']]),
      },
    });
    expect(parseCommand('MAIL FROM:<> AUTH=bob+40example.org')).toMatchObject({
      from: null,
      parameters: { auth: 'bob@example.org' },
    });
  });

  it('allows spaces after FROM: and between parameters, as real clients send them', () => {
    expect(parseCommand('MAIL FROM: <a@b.example>  SIZE=5')).toMatchObject({ parameters: { size: 5 } });
    expect(parseCommand('rcpt to: <c@d.example>')).toMatchObject({ to: mailboxFromAddress('c@d.example') });
  });

  it('refuses malformed MAIL FROM commands', () => {
    for (const line of [
      'MAIL FROM a@b',
      'MAIL FROM:a@b.example',
      'MAIL FROM:<a@b.example',
      'MAIL FROM:<a@b.example>SIZE=1',
      'MAIL FROM:<a@b.example> SIZE=big',
      'MAIL FROM:<a@b.example> SIZE=1 SIZE=2',
      'MAIL FROM:<a@b.example> BODY=9BIT',
      'MAIL FROM:<a@b.example> SMTPUTF8=yes',
      'MAIL FROM:<a@b.example> RET=ALL',
      'MAIL FROM:<a@b.example> ENVID=a+zz',
      'MAIL FROM:<a@b.example> =x',
      'MAIL FROM:<a@b.example> SIZE=99999999999999999',
    ]) {
      expect(refused(line), line).toMatchObject({ replyCode: 501 });
    }
    expect(refused('MAIL FROM:<a b@c.example>')).toMatchObject({ enhancedCode: '5.1.7' });
  });

  it('reads RCPT TO with NOTIFY and ORCPT, and a quoted local part holding > and spaces', () => {
    expect(
      parseCommand('RCPT TO:<"a> b"@c.example> NOTIFY=success,FAILURE ORCPT=rfc822;x+40y.example'),
    ).toEqual({
      verb: 'RCPT',
      to: expect.objectContaining({ localPart: 'a> b', domain: 'c.example' }),
      parameters: {
        notify: ['SUCCESS', 'FAILURE'],
        orcpt: { type: 'rfc822', address: 'x@y.example' },
        other: new Map(),
      },
    });
    expect(parseCommand('RCPT TO:<Postmaster>')).toMatchObject({
      to: { localPart: 'Postmaster', domain: '' },
    });
    for (const line of [
      'RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS',
      'RCPT TO:<a@b.example> NOTIFY=SOMETIMES',
      'RCPT TO:<a@b.example> ORCPT=x',
    ]) {
      expect(refused(line), line).toMatchObject({ replyCode: 501, enhancedCode: '5.5.4' });
    }
    expect(refused('RCPT TO:<>')).toMatchObject({ enhancedCode: '5.1.3' });
  });

  it('RFC 6533: reads a utf-8 ORCPT as utf-8-addr-unitext or -xtext, \\x{…} escapes decoded', () => {
    const orcpt = (value: string) =>
      (parseCommand(`RCPT TO:<用户@例子.广告> ORCPT=${value}`, { smtputf8: true }) as { parameters: unknown })
        .parameters;
    expect(orcpt('utf-8;用户@例子.广告')).toMatchObject({
      orcpt: { type: 'utf-8', address: '用户@例子.广告' },
    });
    expect(orcpt('UTF-8;a\\x{2B}b\\x{7528}@x.example')).toMatchObject({
      orcpt: { type: 'UTF-8', address: 'a+b用@x.example' },
    });
    for (const value of ['utf-8;a+2Bb@x.example', 'utf-8;a\\x{zz}@x.example', 'utf-8;a\\b@x.example']) {
      expect(refused(`RCPT TO:<a@b.example> ORCPT=${value}`), value).toMatchObject({ replyCode: 501 });
    }
  });

  it('allows UTF-8 addresses only under SMTPUTF8 (553 5.6.7 otherwise)', () => {
    expect(refused('MAIL FROM:<jörg@bücher.example>')).toMatchObject({
      replyCode: 553,
      enhancedCode: '5.6.7',
    });
    expect(parseCommand('MAIL FROM:<jörg@bücher.example> SMTPUTF8')).toMatchObject({
      from: { localPart: 'jörg', domain: 'bücher.example' },
    });
    expect(refused('RCPT TO:<ünïcode@example.org>')).toMatchObject({ replyCode: 553 });
    expect(parseCommand('RCPT TO:<ünïcode@example.org>', { smtputf8: true })).toMatchObject({ verb: 'RCPT' });
  });

  it('reads BDAT sizes and LAST', () => {
    expect(parseCommand('BDAT 100 LAST')).toEqual({ verb: 'BDAT', size: 100, last: true });
    expect(parseCommand('bdat 0 last')).toEqual({ verb: 'BDAT', size: 0, last: true });
    expect(parseCommand('BDAT 42')).toEqual({ verb: 'BDAT', size: 42, last: false });
    for (const line of ['BDAT', 'BDAT x', 'BDAT -1', 'BDAT 1 FIRST', 'BDAT 99999999999999999']) {
      expect(refused(line), line).toMatchObject({ replyCode: 501 });
    }
  });

  it('reads AUTH with and without an initial response', () => {
    expect(parseCommand('AUTH plain AGFsaWNlAHNlY3JldA==')).toEqual({
      verb: 'AUTH',
      mechanism: 'PLAIN',
      initialResponse: 'AGFsaWNlAHNlY3JldA==',
    });
    expect(parseCommand('AUTH EXTERNAL =')).toEqual({
      verb: 'AUTH',
      mechanism: 'EXTERNAL',
      initialResponse: '=',
    });
    expect(parseCommand('AUTH SCRAM-SHA-256')).toEqual({ verb: 'AUTH', mechanism: 'SCRAM-SHA-256' });
    for (const line of ['AUTH', 'AUTH PL@IN', 'AUTH PLAIN a b', 'AUTH PLAIN not*base64']) {
      expect(refused(line), line).toMatchObject({ replyCode: 501 });
    }
  });

  it('reads XCLIENT and XFORWARD attributes, decoding xtext', () => {
    expect(parseCommand('XCLIENT ADDR=192.0.2.7 NAME=[UNAVAILABLE] LOGIN=a+2Bb')).toEqual({
      verb: 'XCLIENT',
      attributes: new Map([
        ['ADDR', '192.0.2.7'],
        ['NAME', '[UNAVAILABLE]'],
        ['LOGIN', 'a+b'],
      ]),
    });
    expect(refused('XFORWARD')).toMatchObject({ replyCode: 501 });
  });

  it('case 31: refuses a command line holding CR, LF or NUL', () => {
    for (const line of ['MAIL FROM:<a@b.example>\rRCPT TO:<c@d>', 'NOOP \n', 'HELP \0']) {
      expect(refused(line)).toMatchObject({ replyCode: 501 });
    }
  });
});

describe('serializeCommand', () => {
  it('writes commands the way the parser reads them', () => {
    expect(
      serializeCommand({
        verb: 'MAIL',
        from: mailboxFromAddress('alice@example.org'),
        parameters: { size: 12, body: 'BINARYMIME', envid: 'id=1', other: new Map([['X-A', '']]) },
      }),
    ).toBe('MAIL FROM:<alice@example.org> SIZE=12 BODY=BINARYMIME ENVID=id+3D1 X-A');
    expect(
      serializeCommand({
        verb: 'RCPT',
        to: mailboxFromAddress('bob@example.com'),
        parameters: {
          notify: ['NEVER'],
          orcpt: { type: 'rfc822', address: 'bob@example.com' },
          other: new Map(),
        },
      }),
    ).toBe('RCPT TO:<bob@example.com> NOTIFY=NEVER ORCPT=rfc822;bob@example.com');
    // RFC 6533: a utf-8 ORCPT is utf-8-addr-unitext under SMTPUTF8, else utf-8-addr-xtext; never +HH.
    const utf8Orcpt = (smtputf8: boolean) =>
      serializeCommand(
        {
          verb: 'RCPT',
          to: mailboxFromAddress('bob@example.com'),
          parameters: { orcpt: { type: 'utf-8', address: 'a+b=c\\用@例子.广告' }, other: new Map() },
        },
        { smtputf8 },
      );
    expect(utf8Orcpt(true)).toBe(
      'RCPT TO:<bob@example.com> ORCPT=utf-8;a\\x{2B}b\\x{3D}c\\x{5C}用@例子.广告',
    );
    expect(utf8Orcpt(false)).toBe(
      'RCPT TO:<bob@example.com> ORCPT=utf-8;a\\x{2B}b\\x{3D}c\\x{5C}\\x{7528}@\\x{4F8B}\\x{5B50}.\\x{5E7F}\\x{544A}',
    );
    expect(serializeCommand({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '' })).toBe('AUTH PLAIN =');
    expect(serializeCommand({ verb: 'BDAT', size: 5, last: true })).toBe('BDAT 5 LAST');
  });

  it('case 31: refuses CR, LF or NUL in any value before anything is written', () => {
    const attempts: SmtpCommand[] = [
      { verb: 'EHLO', domain: 'evil\r\nRCPT TO:<x@y>' },
      { verb: 'NOOP', argument: 'a\nb' },
      { verb: 'VRFY', argument: 'x\0' },
      { verb: 'MAIL', from: null, parameters: { other: new Map([['X', 'a\r\nb']]) } },
    ];
    for (const command of attempts) expect(() => serializeCommand(command)).toThrow(InvalidArgumentError);
    expect(() =>
      serializeCommand({
        verb: 'RCPT',
        to: { localPart: 'x>', domain: 'y.example\r\nDATA', address: 'x>@y.example\r\nDATA' },
        parameters: { other: new Map() },
      }),
    ).toThrow(InvalidArgumentError);
  });

  it('round-trips any command through parseCommand', () => {
    const address = fc.constantFrom(
      'a@b.example',
      'first.last@sub.example.org',
      '"quoted local"@example.com',
      'x@[192.0.2.1]',
    );
    const xtextValue = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((text) => /^[\x21-\x7e]+$/.test(text));
    const command: fc.Arbitrary<SmtpCommand> = fc.oneof(
      fc.record({
        verb: fc.constantFrom('EHLO' as const, 'HELO' as const, 'LHLO' as const),
        domain: fc.constantFrom('client.example', '[192.0.2.9]'),
      }),
      fc.record({
        verb: fc.constant('MAIL' as const),
        from: fc.option(
          address.map((text) => mailboxFromAddress(text)),
          { nil: null },
        ),
        parameters: fc.record(
          {
            size: fc.nat(),
            body: fc.constantFrom('7BIT' as const, '8BITMIME' as const, 'BINARYMIME' as const),
            smtputf8: fc.constant(true),
            ret: fc.constantFrom('FULL' as const, 'HDRS' as const),
            envid: xtextValue,
            requireTls: fc.constant(true),
            other: fc.constant(new Map<string, string>()),
          },
          { requiredKeys: ['other'] },
        ),
      }),
      fc.record({
        verb: fc.constant('RCPT' as const),
        to: address.map((text) => mailboxFromAddress(text)),
        parameters: fc.record(
          {
            notify: fc.constantFrom(['NEVER'] as const, ['SUCCESS', 'DELAY'] as const),
            orcpt: fc.record({ type: fc.constant('rfc822'), address: xtextValue }),
            other: fc.constant(new Map<string, string>()),
          },
          { requiredKeys: ['other'] },
        ),
      }),
      fc.record({ verb: fc.constant('BDAT' as const), size: fc.nat(), last: fc.boolean() }),
      fc.record({
        verb: fc.constantFrom('DATA' as const, 'RSET' as const, 'QUIT' as const, 'STARTTLS' as const),
      }),
    ) as fc.Arbitrary<SmtpCommand>;
    fc.assert(
      fc.property(command, (original) => {
        const parsed = parseCommand(serializeCommand(original));
        expect(parsed).toEqual(original);
      }),
    );
  });
});
