import { ErrorCode, InvalidArgumentError, ProtocolError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatPath,
  mailboxFromAddress,
  parseForwardPath,
  parseReversePath,
  type SmtpMailbox,
  SmtpPathError,
} from '../../src/protocol/path.js';

const UTF8 = { smtputf8: true } as const;

/** The error a parse throws, for checking its fields. */
function pathError(parse: () => unknown): SmtpPathError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(SmtpPathError);
    return error as SmtpPathError;
  }
  throw new Error('expected the path to be refused');
}

function refusal(text: string, options = {}): SmtpPathError['reason'] {
  return pathError(() => parseForwardPath(text, options)).reason;
}

describe('parseReversePath', () => {
  it('reads <> as the null reverse-path', () => {
    expect(parseReversePath('<>')).toBeNull();
  });

  it('reads the RFC 5321 examples', () => {
    // §4.1.1.2 and Appendix D.
    expect(parseReversePath('<Smith@bar.com>')).toEqual({
      localPart: 'Smith',
      domain: 'bar.com',
      address: 'Smith@bar.com',
    });
    expect(parseReversePath('<JQP@bar.com>')?.address).toBe('JQP@bar.com');
  });

  it('accepts and drops a source route (§4.1.2, Appendix C)', () => {
    expect(parseReversePath('<@hosta.int,@jkl.org:userc@d.bar.org>')).toEqual({
      localPart: 'userc',
      domain: 'd.bar.org',
      address: 'userc@d.bar.org',
    });
    expect(parseReversePath('<@ONE:JOE@THREE>')?.address).toBe('JOE@THREE');
  });

  it('refuses <Postmaster>, which only a recipient may be', () => {
    expect(pathError(() => parseReversePath('<Postmaster>')).reason).toBe('syntax');
  });

  it('answers bad syntax with 501 5.1.7 (bad sender address)', () => {
    const error = pathError(() => parseReversePath('<a b@c>'));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe(ErrorCode.Protocol);
    expect(error.reason).toBe('syntax');
    expect(error.replyCode).toBe(501);
    expect(error.enhancedCode).toBe('5.1.7');
  });
});

describe('parseForwardPath', () => {
  it('reads the RFC 5321 examples', () => {
    expect(parseForwardPath('<Jones@XYZ.COM>')).toEqual({
      localPart: 'Jones',
      domain: 'XYZ.COM',
      address: 'Jones@XYZ.COM',
    });
    expect(parseForwardPath('<@hosta.int,@jkl.org:userc@d.bar.org>').address).toBe('userc@d.bar.org');
    expect(parseForwardPath('<userc@[123.255.37.2]>').domain).toBe('[123.255.37.2]');
  });

  it('allows <Postmaster> in any case, with domain ""', () => {
    for (const text of ['<Postmaster>', '<postmaster>', '<POSTMASTER>', '<PostMaster>']) {
      expect(parseForwardPath(text)).toEqual({ localPart: 'Postmaster', domain: '', address: 'Postmaster' });
    }
    expect(parseForwardPath('<Postmaster@Example.COM>')).toEqual({
      localPart: 'Postmaster',
      domain: 'Example.COM',
      address: 'Postmaster@Example.COM',
    });
  });

  it('refuses what only looks like Postmaster', () => {
    for (const text of ['<"Postmaster">', '<@a:Postmaster>', '<Postmaster >', '<Postmaſter>', '<Admin>']) {
      expect(refusal(text, UTF8), text).toBe('syntax');
    }
  });

  it('refuses <>', () => {
    expect(refusal('<>')).toBe('syntax');
  });

  it('answers bad syntax with 501 5.1.3 (bad recipient address)', () => {
    const error = pathError(() => parseForwardPath('<a..b@c>'));
    expect([error.reason, error.replyCode, error.enhancedCode]).toEqual(['syntax', 501, '5.1.3']);
  });

  it('keeps the domain in its case, and the local part as written', () => {
    expect(parseForwardPath('<John.Doe@Example.ORG>')).toEqual({
      localPart: 'John.Doe',
      domain: 'Example.ORG',
      address: 'John.Doe@Example.ORG',
    });
  });

  it('reads every atext character in a dot-string', () => {
    const local = "!#$%&'*+-/=?^_`{|}~.AZaz09";
    expect(parseForwardPath(`<${local}@x>`).localPart).toBe(local);
  });
});

describe('quoted local parts', () => {
  it('reads spaces, "@", ">" and "<" inside quotes', () => {
    expect(parseForwardPath('<"john doe"@example.com>')).toEqual({
      localPart: 'john doe',
      domain: 'example.com',
      address: '"john doe"@example.com',
    });
    expect(parseForwardPath('<"a>b"@x>').localPart).toBe('a>b');
    expect(parseForwardPath('<"<a@b>"@x>').localPart).toBe('<a@b>');
  });

  it('removes escapes, and writes back only the two that are needed', () => {
    expect(parseForwardPath('<"a\\"b\\\\c"@x>')).toEqual({
      localPart: 'a"b\\c',
      domain: 'x',
      address: '"a\\"b\\\\c"@x',
    });
    expect(parseForwardPath('<"a\\ b"@x>').address).toBe('"a b"@x');
  });

  it('leniency: drops quotes and escapes that are not needed', () => {
    expect(parseForwardPath('<"john"@x>').address).toBe('john@x');
    expect(parseForwardPath('<"j\\ohn"@x>').address).toBe('john@x');
    expect(parseForwardPath('<"a..b"@x>').address).toBe('"a..b"@x');
    expect(parseForwardPath('<".a"@x>').address).toBe('".a"@x');
  });

  it('refuses unbalanced quotes and stray quotes', () => {
    for (const text of ['<"a@b>', '<"a\\"@b>', '<"a"b@c>', '<a"b"@c>', '<"a""b"@c>', '<a"@b>', '<"a"@>']) {
      expect(refusal(text), text).toBe('syntax');
    }
  });

  it('refuses an empty quoted local part', () => {
    expect(refusal('<""@example.com>')).toBe('syntax');
  });

  it('refuses escapes of anything but printable ASCII and space', () => {
    for (const text of [
      '<"a\\\r\nb"@c>',
      '<"a\\\rb"@c>',
      '<"a\\\nb"@c>',
      '<"a\\\tb"@c>',
      '<"a\\\u0000"@c>',
    ]) {
      expect(refusal(text), JSON.stringify(text)).toBe('syntax');
    }
    expect(refusal('<"a\\é"@c>', UTF8)).toBe('syntax');
  });
});

describe('refused syntax', () => {
  it('refuses a path without its angle brackets, or with anything around them', () => {
    for (const text of ['a@b', '<a@b', 'a@b>', ' <a@b>', '<a@b> ', '< a@b>', '<a@b >', '<<a@b>>', '']) {
      expect(refusal(text), text).toBe('syntax');
    }
    expect(pathError(() => parseReversePath('a@b')).reason).toBe('syntax');
  });

  it('refuses empty local parts and domains', () => {
    for (const text of ['<@b>', '<a@>', '<a>', '<@a:>', '<@a:@b>', '<:a@b>']) {
      expect(refusal(text), text).toBe('syntax');
    }
  });

  it('refuses leading, trailing and doubled dots', () => {
    for (const text of ['<.a@b>', '<a.@b>', '<a..b@c>', '<a@.b>', '<a@b.>', '<a@b..c>', '<.@b>']) {
      expect(refusal(text), text).toBe('syntax');
    }
  });

  it('refuses characters outside atext in a dot-string', () => {
    for (const text of ['<a b@c>', '<a(b)@c>', '<a,b@c>', '<a;b@c>', '<a[b]@c>', '<a\\b@c>', '<a:b@c>']) {
      expect(refusal(text), text).toBe('syntax');
    }
  });

  it('refuses a second "@" outside quotes', () => {
    expect(refusal('<a@b@c>')).toBe('syntax');
  });

  it('refuses domains outside the LDH grammar', () => {
    for (const text of ['<a@-b.c>', '<a@b-.c>', '<a@b.-c>', '<a@b_c.d>', '<a@b c>', '<a@b!c>', '<a@b,c>']) {
      expect(refusal(text), text).toBe('syntax');
    }
    expect(parseForwardPath('<a@b-c.d-e>').domain).toBe('b-c.d-e');
    expect(parseForwardPath('<a@localhost>').domain).toBe('localhost');
    expect(parseForwardPath('<a@3com.com>').domain).toBe('3com.com');
  });

  it('refuses malformed source routes', () => {
    for (const text of [
      '<@a,b:c@d>',
      '<@a,:c@d>',
      '<@a;@b:c@d>',
      '<@[1.2.3.4]:c@d>',
      '<@a_b:c@d>',
      '<@:c@d>',
      '<@a@b:c@d>',
    ]) {
      expect(refusal(text), text).toBe('syntax');
    }
  });

  it('refuses control characters, CR and LF anywhere', () => {
    for (const text of [
      '<a\r\n@b>',
      '<a@b\r\n>',
      '<"a\r\nb"@c>',
      '<"a\rb"@c>',
      '<"a\nb"@c>',
      '<a\u0000@b>',
      '<"a\tb"@c>',
      '<a@b\u007f>',
      '<@a\r\n:b@c>',
      '<a@b>\r\n',
    ]) {
      expect(refusal(text, UTF8), JSON.stringify(text)).toBe('syntax');
    }
  });

  it('refuses text that is not Unicode text, even with SMTPUTF8', () => {
    for (const text of [
      '<a\ud800@b>',
      '<a\udc00@b>',
      '<"\ud83d"@b>',
      '<a\ufffd@b>',
      '<a\u0085@b>',
      '<"a\u2028b"@c>',
      '<a@b\u2029>',
    ]) {
      expect(refusal(text, UTF8), JSON.stringify(text)).toBe('syntax');
    }
  });

  it('never quotes the refused text in its message', () => {
    const error = pathError(() => parseForwardPath('<"x\r\nRCPT TO:<evil@x>"@b>'));
    expect(error.message).not.toMatch(/[\r\n]|evil/);
    expect(error.message).toContain('U+000D');
  });
});

describe('address literals', () => {
  it('reads IPv4 literals', () => {
    for (const literal of ['[123.255.37.2]', '[0.0.0.0]', '[255.255.255.255]', '[10.0.0.1]']) {
      expect(parseForwardPath(`<a@${literal}>`).domain).toBe(literal);
    }
  });

  it('refuses malformed IPv4 literals, and leading zeros (read as octal by some)', () => {
    for (const literal of [
      '[1.2.3]',
      '[1.2.3.4.5]',
      '[256.1.1.1]',
      '[1.2.3.-4]',
      '[01.2.3.4]',
      '[1.2.3.04]',
      '[]',
    ]) {
      expect(refusal(`<a@${literal}>`), literal).toBe('syntax');
    }
    expect(refusal('<a@[1.2.3.4>')).toBe('syntax');
    expect(refusal('<a@[1.2.3.4]x>')).toBe('syntax');
    expect(refusal('<a@x[1.2.3.4]>')).toBe('syntax');
  });

  it('reads the IPv6 literal forms of §4.1.3', () => {
    for (const literal of [
      '[IPv6:2001:db8:0:0:0:0:0:1]',
      '[IPv6:2001:DB8::1]',
      '[IPv6:::1]',
      '[IPv6:::]',
      '[IPv6:fe80::]',
      '[IPv6:0:0:0:0:0:ffff:192.0.2.1]',
      '[IPv6:::ffff:192.0.2.1]',
      '[IPv6:1:2:3:4::192.0.2.1]',
    ]) {
      expect(parseForwardPath(`<a@${literal}>`).domain).toBe(literal);
    }
  });

  it('leniency: "::" for a single group (RFC 4291), and the tag in any case', () => {
    expect(parseForwardPath('<a@[IPv6:1:2:3:4:5:6:7::]>').domain).toBe('[IPv6:1:2:3:4:5:6:7::]');
    expect(parseForwardPath('<a@[IPv6:1:2:3:4:5::192.0.2.1]>').domain).toBe('[IPv6:1:2:3:4:5::192.0.2.1]');
    expect(parseForwardPath('<a@[ipv6:::1]>').domain).toBe('[ipv6:::1]');
  });

  it('refuses malformed IPv6 literals', () => {
    for (const literal of [
      '[IPv6:1::2::3]',
      '[IPv6:1:2:3:4:5:6:7:8:9]',
      '[IPv6:1:2:3:4:5:6:7]',
      '[IPv6:1:2:3:4:5:6:7:8::]',
      '[IPv6:12345::]',
      '[IPv6:g::]',
      '[IPv6::1]',
      '[IPv6:1:]',
      '[IPv6:1.2.3.4]',
      '[IPv6:::1.2.3]',
      '[IPv6:::01.2.3.4]',
      '[IPv6:1:2:3:4:5:6:7:192.0.2.1]',
      '[IPv6:]',
      '[IPv6:::1%eth0]',
    ]) {
      expect(refusal(`<a@${literal}>`), literal).toBe('syntax');
    }
  });

  it('leniency: reads a General-address-literal with an unregistered tag, as its grammar allows', () => {
    expect(parseForwardPath('<a@[x-tag:some;thing]>').domain).toBe('[x-tag:some;thing]');
    for (const literal of ['[tag-:x]', '[:x]', '[tag:]', '[tag:a]b]', '[tag:a\\b]', '[tag:a b]', '[t_g:x]']) {
      expect(refusal(`<a@${literal}>`), literal).toBe('syntax');
    }
    expect(refusal('<a@[tag:é]>', UTF8)).toBe('syntax');
  });
});

describe('size limits (RFC 5321 §4.5.3.1)', () => {
  it('does not enforce the 64-octet local part (SRS and VERP senders pass it); the path limit bounds it', () => {
    const srs = `SRS0=HHH=TT=${'orig-domain.example'}=${'a-long-user-name-'.repeat(4)}`;
    expect(parseReversePath(`<${srs}@forwarder.example>`)!.localPart).toBe(srs);
    const error = pathError(() => parseForwardPath(`<${'a'.repeat(260)}@x>`));
    expect([error.reason, error.replyCode, error.enhancedCode]).toEqual(['too-long', 501, '5.1.3']);
  });

  it('counts octets, not characters', () => {
    // 84 three-octet characters, @x and the brackets: 256 octets; one more is too long.
    expect(parseForwardPath(`<${'用'.repeat(84)}@x>`, UTF8).localPart).toHaveLength(84);
    expect(refusal(`<${'用'.repeat(85)}@x>`, UTF8)).toBe('too-long');
  });

  it('allows a 256-octet path and refuses 257, whatever the domain length', () => {
    const path = `<x@${'b'.repeat(252)}>`;
    expect(path).toHaveLength(256);
    expect(parseForwardPath(path).domain).toHaveLength(252);
    const error = pathError(() => parseReversePath(`<x@${'b'.repeat(253)}>`));
    expect([error.reason, error.replyCode, error.enhancedCode]).toEqual(['too-long', 501, '5.1.7']);
    // A domain over 255 octets (§4.5.3.1.2) never fits in a path.
    expect(refusal(`<x@${'b.'.repeat(128)}b>`)).toBe('too-long');
  });

  it('counts the source route in the path length', () => {
    const route = `@${'r'.repeat(200)}:`;
    expect(refusal(`<${route}${'a'.repeat(30)}@${'b'.repeat(30)}>`)).toBe('too-long');
  });

  it('refuses megabytes of input at once', () => {
    expect(refusal(`<${'a'.repeat(1_000_000)}@b>`)).toBe('too-long');
  });
});

describe('SMTPUTF8 (RFC 6531)', () => {
  it('reads UTF-8 in the local part and domain when allowed', () => {
    expect(parseForwardPath('<用户@例子.广告>', UTF8)).toEqual({
      localPart: '用户',
      domain: '例子.广告',
      address: '用户@例子.广告',
    });
    expect(parseReversePath('<"Jörg Müller"@bücher.de>', UTF8)?.address).toBe('"Jörg Müller"@bücher.de');
    expect(parseForwardPath('<θσερ@εχαμπλε.ψομ>', UTF8).domain).toBe('εχαμπλε.ψομ');
    expect(parseForwardPath('<a@Bücher.DE>', UTF8).domain).toBe('Bücher.DE');
    expect(parseForwardPath('<a😀b@x>', UTF8).localPart).toBe('a😀b');
  });

  it('answers UTF-8 without SMTPUTF8 with 553 5.6.7', () => {
    for (const text of ['<用户@example.com>', '<user@例子.广告>', '<"ü"@x>', '<@bücher.de:a@b>']) {
      const error = pathError(() => parseForwardPath(text));
      expect([error.reason, error.replyCode, error.enhancedCode], text).toEqual([
        'utf8-not-allowed',
        553,
        '5.6.7',
      ]);
      expect(pathError(() => parseReversePath(text)).enhancedCode).toBe('5.6.7');
    }
  });

  it('reports bad syntax before missing SMTPUTF8', () => {
    expect(refusal('<ü..a@b>')).toBe('syntax');
  });

  it('never allows UTF-8 in an address literal', () => {
    expect(refusal('<a@[IPv6:١::]>', UTF8)).toBe('syntax');
    expect(refusal('<a@[١.2.3.4]>', UTF8)).toBe('syntax');
  });

  it('refuses domains that no resolver would read as written', () => {
    for (const domain of [
      'ｅｘａｍｐｌｅ.com', // fullwidth: IDNA maps it to example.com
      'exam\u00adple.com', // a soft hyphen is dropped
      'exa\u200bmple.com', // zero-width space
      'Bu\u0308cher.de', // not NFC
      '\u0301a.com', // starts with a combining mark
      'ab\ufe0f.com', // variation selector
      'xn--zz.bücher', // a broken A-label beside a U-label
      'a\u06ddb.bücher', // a character IDNA disallows
      'a\u0660\u06f0.com', // Arabic-Indic digits of both kinds mixed (RFC 5892 CONTEXTO)
    ]) {
      expect(refusal(`<a@${domain}>`, UTF8), domain).toBe('syntax');
    }
  });

  it('case 35: an IDN with the ideographic full stop is refused, not read as two labels', () => {
    for (const domain of ['example\u3002com', 'example\uff0ecom', 'example\uff61com']) {
      expect(refusal(`<a@${domain}>`, UTF8), domain).toBe('syntax');
    }
  });

  it('case 35: an IDN with a ZWJ is refused', () => {
    expect(refusal('<a@exa\u200dmple.com>', UTF8)).toBe('syntax');
    expect(refusal('<a@exa\u200cmple.com>', UTF8)).toBe('syntax');
  });

  it('case 35: an IDN with a Cyrillic а is kept as written, distinct from the Latin name', () => {
    const mailbox = parseForwardPath('<admin@ex\u0430mple.com>', UTF8);
    expect(mailbox.domain).toBe('ex\u0430mple.com');
    expect(mailbox.domain).not.toBe('example.com');
  });
});

describe('security catalogue', () => {
  it('case 31: the parser reads a quoted ">" and parameters as one local part, never as two', () => {
    const mailbox = parseForwardPath('<"foo@psres.net> ORCPT=admin@admin.com"@test.com>');
    expect(mailbox.localPart).toBe('foo@psres.net> ORCPT=admin@admin.com');
    expect(mailbox.domain).toBe('test.com');
  });

  it('case 31: the client refuses CR, LF, "<" and ">" in an envelope value before anything is written', () => {
    const hostile = [
      { localPart: 'foo@psres.net> ORCPT=admin@admin.com', domain: 'test.com' },
      { localPart: 'a\r\nRCPT TO:<v@x>', domain: 'x' },
      { localPart: 'a', domain: 'x>\r\nDATA' },
      { localPart: 'a', domain: 'x\n' },
      { localPart: 'a\r', domain: 'x' },
      { localPart: '<a', domain: 'x' },
      { localPart: 'a', domain: '[tag:<x>]' },
    ];
    for (const { localPart, domain } of hostile) {
      expect(() => formatPath({ localPart, domain, address: '' }), localPart).toThrow(InvalidArgumentError);
    }
    for (const address of [
      '"foo@psres.net> ORCPT=admin@admin.com"@test.com',
      'a\r\n@x',
      'a@x\r\nRCPT TO:<v@x>',
      '<a@x>',
      'a@x>',
      '"<"@x',
    ]) {
      expect(() => mailboxFromAddress(address), JSON.stringify(address)).toThrow(InvalidArgumentError);
    }
  });

  it('case 32: a quoted "@" and space leave the domain where the last unquoted "@" puts it', () => {
    const mailbox = parseForwardPath('<"attacker@evil.com x"@internal.domain>');
    expect(mailbox.domain).toBe('internal.domain');
    expect(mailbox.localPart).toBe('attacker@evil.com x');
    expect(mailbox.address).toBe('"attacker@evil.com x"@internal.domain');
    expect(mailboxFromAddress('"attacker@evil.com x"@internal.domain').domain).toBe('internal.domain');
    expect(() => mailboxFromAddress('attacker@evil.com x@internal.domain')).toThrow(InvalidArgumentError);
  });

  it('case 33: a source route is dropped, leaving the one mailbox mail goes to', () => {
    const mailbox = parseReversePath('<@attack.com,@any.com:admin@legitimate.com>');
    expect(mailbox).toEqual({
      localPart: 'admin',
      domain: 'legitimate.com',
      address: 'admin@legitimate.com',
    });
    expect(refusal('<any@attack.com>admin@legitimate.com')).toBe('syntax');
    expect(refusal('<admin@legitimate.com>\\,<s@attack.com>')).toBe('syntax');
    expect(refusal('<admin@legitimate.com>,<s@attack.com>')).toBe('syntax');
  });
});

describe('formatPath', () => {
  it('writes <> for null', () => {
    expect(formatPath(null)).toBe('<>');
  });

  it('quotes the local part only where needed', () => {
    const path = (localPart: string, domain = 'example.com') =>
      formatPath({ localPart, domain, address: '' });
    expect(path('john.doe')).toBe('<john.doe@example.com>');
    expect(path('john doe')).toBe('<"john doe"@example.com>');
    expect(path('a"b\\c')).toBe('<"a\\"b\\\\c"@example.com>');
    expect(path('a..b')).toBe('<"a..b"@example.com>');
    expect(path('.a')).toBe('<".a"@example.com>');
    expect(path('a@b')).toBe('<"a@b"@example.com>');
    expect(path('a', '[IPv6:2001:db8::1]')).toBe('<a@[IPv6:2001:db8::1]>');
  });

  it('builds the path from localPart and domain, not from address', () => {
    expect(formatPath({ localPart: 'a', domain: 'b', address: 'evil@x>' })).toBe('<a@b>');
  });

  it('writes the Postmaster recipient', () => {
    expect(formatPath(parseForwardPath('<postmaster>'))).toBe('<Postmaster>');
    expect(formatPath({ localPart: 'POSTMASTER', domain: '', address: '' })).toBe('<Postmaster>');
    expect(() => formatPath({ localPart: 'admin', domain: '', address: '' })).toThrow(InvalidArgumentError);
  });

  it('refuses what is not a valid mailbox', () => {
    for (const [localPart, domain] of [
      ['', 'x'],
      ['a', ''],
      ['a', 'b..c'],
      ['a', 'b_c'],
      ['a', '[1.2.3]'],
      ['a\u0000', 'x'],
      ['a\tb', 'x'],
      ['a\u0085', 'x'],
      ['a\ud800', 'x'],
      ['a'.repeat(253), 'x'],
      ['a', 'b'.repeat(253)],
    ] as const) {
      expect(() => formatPath({ localPart, domain, address: '' }, UTF8), `${localPart}@${domain}`).toThrow(
        InvalidArgumentError,
      );
    }
    expect(formatPath({ localPart: 'a', domain: 'b'.repeat(252), address: '' })).toHaveLength(256);
  });

  it('refuses UTF-8 without smtputf8, and writes it with', () => {
    const mailbox = { localPart: 'Jörg', domain: 'bücher.de', address: '' };
    expect(() => formatPath(mailbox)).toThrow(/SMTPUTF8/);
    expect(formatPath(mailbox, UTF8)).toBe('<Jörg@bücher.de>');
    expect(() => formatPath({ localPart: 'a', domain: 'ｅｘａｍｐｌｅ.com', address: '' }, UTF8)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('mailboxFromAddress', () => {
  it('reads an application address as an RFC 5321 Mailbox', () => {
    expect(mailboxFromAddress('john.doe@Example.com')).toEqual({
      localPart: 'john.doe',
      domain: 'Example.com',
      address: 'john.doe@Example.com',
    });
    expect(mailboxFromAddress('"john doe"@example.com').localPart).toBe('john doe');
    expect(mailboxFromAddress('"john"@example.com').address).toBe('john@example.com');
    expect(mailboxFromAddress('a@[192.0.2.1]').domain).toBe('[192.0.2.1]');
    expect(mailboxFromAddress('postmaster')).toEqual({
      localPart: 'Postmaster',
      domain: '',
      address: 'Postmaster',
    });
    expect(mailboxFromAddress('用户@例子.广告', UTF8).localPart).toBe('用户');
  });

  it('refuses what is not a Mailbox', () => {
    for (const address of [
      '',
      'a',
      'a@',
      '@b',
      'a b@c',
      'a@b c',
      ' a@b',
      'a@b ',
      'a..b@c',
      '"a@b',
      'a@b.',
      '@a:b@c',
    ]) {
      expect(() => mailboxFromAddress(address), address).toThrow(InvalidArgumentError);
    }
    expect(() => mailboxFromAddress(`a@${'b'.repeat(253)}`)).toThrow(/256 octets/);
    expect(() => mailboxFromAddress('ü@b')).toThrow(/SMTPUTF8/);
  });
});

/** A Dot-string with RFC 6531 atext: the local parts that need no quotes. */
const DOT_STRING = /^[\w!#$%&'*+/=?^`{|}~\u0080-\uffff-]+(?:\.[\w!#$%&'*+/=?^`{|}~\u0080-\uffff-]+)*$/;

/** Octets of text in UTF-8. */
const octets = (text: string) => new TextEncoder().encode(text).length;

const atextAscii = fc.constantFrom(..."abcXYZ019!#$%&'*+-/=?^_`{|}~".split(''));
/** Non-ASCII characters a path may hold: no C1 controls, line separators, U+FFFD or surrogates. */
const nonAsciiCharacter = fc
  .oneof(
    fc.integer({ min: 0xa0, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  )
  .filter(
    (code) => !(code >= 0xd800 && code <= 0xdfff) && code !== 0x2028 && code !== 0x2029 && code !== 0xfffd,
  )
  .map((code) => String.fromCodePoint(code));
const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));

function localPartArbitrary(utf8: boolean): fc.Arbitrary<string> {
  const atext = utf8 ? fc.oneof(atextAscii, nonAsciiCharacter) : atextAscii;
  // At most 15 characters of 4 octets and two dots: within the 64 octets of a local part.
  const atom = fc.string({ unit: atext, minLength: 1, maxLength: 5 });
  const dotString = fc.array(atom, { minLength: 1, maxLength: 3 }).map((atoms) => atoms.join('.'));
  const specials = fc.constantFrom(' ', '"', '\\', '@', '.', ',', ':', ';', '(', ')', '[', ']');
  const quotedCharacter = utf8
    ? fc.oneof(printableAscii, specials, nonAsciiCharacter)
    : fc.oneof(printableAscii, specials);
  const quoted = fc.string({ unit: quotedCharacter, minLength: 1, maxLength: 12 });
  // "<" and ">" are refused when writing (case 31).
  return fc.oneof(dotString, quoted).filter((local) => !/[<>]/.test(local));
}

const UNICODE_LABELS = [
  'bücher',
  'münchen',
  'пример',
  'испытание',
  '例子',
  '广告',
  'δοκιμή',
  'テスト',
  'Straße',
];

function domainArbitrary(utf8: boolean): fc.Arbitrary<string> {
  const letDig = fc.constantFrom(...'abcxyzABCXYZ0129'.split(''));
  // A first letter keeps the last label from looking like a number, which the URL host parser refuses.
  const letter = fc.constantFrom(...'abcxyzABCXYZ'.split(''));
  const asciiLabel = fc
    .tuple(letter, fc.string({ unit: fc.oneof(letDig, fc.constant('-')), maxLength: 8 }), letDig)
    .map(([first, middle, last]) => `${first}${middle}${last}`);
  const label = utf8 ? fc.oneof(asciiLabel, fc.constantFrom(...UNICODE_LABELS)) : asciiLabel;
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
  const byte = fc.integer({ min: 0, max: 255 });
  const ipv4 = fc.tuple(byte, byte, byte, byte).map((bytes) => bytes.join('.'));
  const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
  const ipv6Full = fc.array(group, { minLength: 8, maxLength: 8 }).map((groups) => groups.join(':'));
  const ipv6Compressed = fc
    .tuple(fc.array(group, { maxLength: 3 }), fc.array(group, { maxLength: 3 }))
    .map(([head, tail]) => `${head.join(':')}::${tail.join(':')}`);
  const ipv6WithIpv4 = fc
    .tuple(fc.array(group, { maxLength: 4 }), ipv4)
    .map(([head, v4]) => `${head.join(':')}::${v4}`);
  const general = fc
    .tuple(
      fc.constantFrom('x-tag', 'Local1'),
      fc.string({ unit: fc.constantFrom(...'!aZ^~;/.'.split('')), minLength: 1, maxLength: 20 }),
    )
    .map(([tag, content]) => `${tag}:${content}`);
  const literal = fc
    .oneof(
      ipv4,
      ipv6Full.map((v6) => `IPv6:${v6}`),
      ipv6Compressed.map((v6) => `IPv6:${v6}`),
      ipv6WithIpv4.map((v6) => `ipv6:${v6}`),
      general,
    )
    .map((body) => `[${body}]`);
  return fc.oneof({ arbitrary: name, weight: 3 }, { arbitrary: literal, weight: 1 });
}

const mailboxParts = fc.boolean().chain((utf8) =>
  fc.record({
    utf8: fc.constant(utf8),
    localPart: localPartArbitrary(utf8),
    domain: domainArbitrary(utf8),
  }),
);

describe('properties', () => {
  it('formatPath then parse gives the same mailbox, for any valid mailbox', () => {
    fc.assert(
      fc.property(mailboxParts, ({ utf8, localPart, domain }) => {
        const options = { smtputf8: utf8 };
        const path = formatPath({ localPart, domain, address: '' }, options);
        expect(octets(path)).toBeLessThanOrEqual(256);
        const expected = { localPart, domain, address: path.slice(1, -1) };
        expect(expected.address.startsWith('"')).toBe(!DOT_STRING.test(localPart));
        expect(parseForwardPath(path, options)).toEqual(expected);
        expect(parseReversePath(path, options)).toEqual(expected);
        expect(mailboxFromAddress(expected.address, options)).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('a path with UTF-8 is refused without smtputf8 for that reason alone', () => {
    fc.assert(
      fc.property(localPartArbitrary(true), domainArbitrary(true), (localPart, domain) => {
        const path = formatPath({ localPart, domain, address: '' }, UTF8);
        fc.pre(/[^\u0000-\u007f]/.test(path));
        expect(refusal(path)).toBe('utf8-not-allowed');
        expect(() => formatPath({ localPart, domain, address: '' })).toThrow(/SMTPUTF8/);
      }),
    );
  });

  const fragment = fc.constantFrom(
    '<',
    '>',
    '"',
    '\\',
    '@',
    '.',
    ':',
    ',',
    '[',
    ']',
    'a',
    'B',
    '0',
    '-',
    ' ',
    '\r',
    '\n',
    'é',
    'IPv6:',
    '::',
    '1.2.3.4',
    'Postmaster',
    '\ud800',
  );
  const hostileText = fc.oneof(
    fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join('')),
    fc.array(fragment, { maxLength: 30 }).map((parts) => `<${parts.join('')}>`),
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => `<${text}>`),
  );

  it('any input is either read or refused with an SmtpPathError, and what is read writes back', () => {
    fc.assert(
      fc.property(hostileText, fc.boolean(), (text, utf8) => {
        const options = { smtputf8: utf8 };
        for (const parse of [parseForwardPath, parseReversePath]) {
          let mailbox: SmtpMailbox | null;
          try {
            mailbox = parse(text, options);
          } catch (error) {
            expect(error).toBeInstanceOf(SmtpPathError);
            continue;
          }
          if (mailbox === null || /[<>]/.test(mailbox.address)) continue;
          const path = formatPath(mailbox, options);
          expect(path.length).toBeLessThanOrEqual(text.length);
          expect(parse(path, options)).toEqual(mailbox);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('mailboxFromAddress only ever throws InvalidArgumentError, and what it returns formats', () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 20 }), fc.boolean(), (parts, utf8) => {
        const options = { smtputf8: utf8 };
        let mailbox: SmtpMailbox;
        try {
          mailbox = mailboxFromAddress(parts.join(''), options);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
          return;
        }
        expect(formatPath(mailbox, options)).toBe(`<${mailbox.address}>`);
      }),
    );
  });
});
