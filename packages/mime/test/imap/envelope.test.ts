import { utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envelope, parseHeaderBlock, parseMessageSync } from '../../src/index.js';
import { envelopeSyntax } from './support/imap-syntax.js';

const headersOf = (text: string) => parseHeaderBlock(utf8(text)).fields;
const envelopeOf = (text: string) => envelopeSyntax(envelope(headersOf(text)));

describe('envelope', () => {
  it('gives the ENVELOPE of the RFC 3501 §7.4.2 (RFC 9051 §7.5.2) FETCH example', () => {
    const message = [
      'Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
      'From: Terry Gray <gray@cac.washington.edu>',
      'Subject: IMAP4rev1 WG mtg summary and minutes',
      'To: imap@cac.washington.edu',
      'cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>',
      'Message-Id: <B27397-0100000@cac.washington.edu>',
      'MIME-Version: 1.0',
      'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
      '',
      'body',
    ].join('\r\n');
    // The RFC breaks this response over lines for print; the grammar puts no space between addresses.
    expect(envelopeSyntax(envelope(parseMessageSync(message).parts.headers))).toBe(
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '((NIL NIL "imap" "cac.washington.edu")) ' +
        '((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
        '"<B27397-0100000@cac.washington.edu>")',
    );
  });

  it('fills every field from its header, as written', () => {
    const text = [
      'Message-ID: <msg@id>',
      'In-Reply-To: <reply@to.id>',
      'Date: Thu, 15 Feb 2007 01:02:03 +0200',
      'Subject: subject header',
      'From: From Real <fromuser@fromdomain.org>',
      'To: To Real <touser@todomain.org>',
      'Cc: Cc Real <ccuser@ccdomain.org>',
      'Bcc: Bcc Real <bccuser@bccdomain.org>',
      'Sender: Sender Real <senderuser@senderdomain.org>',
      'Reply-To: ReplyTo Real <replytouser@replytodomain.org>',
      '',
    ].join('\n');
    expect(envelopeOf(text)).toBe(
      '("Thu, 15 Feb 2007 01:02:03 +0200" "subject header" ' +
        '(("From Real" NIL "fromuser" "fromdomain.org")) ' +
        '(("Sender Real" NIL "senderuser" "senderdomain.org")) ' +
        '(("ReplyTo Real" NIL "replytouser" "replytodomain.org")) ' +
        '(("To Real" NIL "touser" "todomain.org")) ' +
        '(("Cc Real" NIL "ccuser" "ccdomain.org")) ' +
        '(("Bcc Real" NIL "bccuser" "bccdomain.org")) ' +
        '"<reply@to.id>" "<msg@id>")',
    );
  });

  it('gives NIL for missing fields, and From for a missing or empty Sender and Reply-To', () => {
    expect(envelopeOf('X-Other: 1\n\n')).toBe('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
    expect(envelopeOf('Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain\n\n')).toBe(
      '("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ' +
        '((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL)',
    );
    expect(envelopeOf('From: user@domain (Real Name)\nSender: \nReply-To: \nTo:\n\n')).toBe(
      '(NIL NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) ' +
        '(("Real Name" NIL "user" "domain")) NIL NIL NIL NIL NIL)',
    );
    const noFrom = envelope(headersOf('Subject: x\n\n'));
    expect([noFrom.from, noFrom.sender, noFrom.replyTo]).toEqual([null, null, null]);
  });

  it('writes groups as start and end markers (a lone comment reads as a name without address)', () => {
    const text = [
      'From: user@domain',
      'To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;',
      'Cc: group:;, group2: (foo) ;',
      'Bcc: undisclosed-recipients:;',
      '',
    ].join('\n');
    const result = envelope(headersOf(text));
    expect(envelopeSyntax(result)).toContain(
      '((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)' +
        '(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL)) ' +
        '((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)' +
        '("foo" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL NIL NIL)) ' +
        '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL)',
    );
  });

  it('keeps encoded words as written in the subject, names and group names', () => {
    const text = [
      'Subject: =?UTF-8?Q?caf=C3=A9?= time',
      'From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
      'To: "=?utf-8?B?SsO8cmdlbg==?=" <j@x.example>, =?utf-8?q?Team?=: a@x.example;',
      'Cc: b@y.example (=?utf-8?q?B=C3=A9?=)',
      '',
    ].join('\r\n');
    const result = envelope(headersOf(text));
    expect(result.subject).toBe('=?UTF-8?Q?caf=C3=A9?= time');
    expect(result.from).toEqual([
      { name: '=?ISO-8859-1?Q?Andr=E9?= Pirard', adl: null, mailbox: 'PIRARD', host: 'vm1.ulg.ac.be' },
    ]);
    expect(result.to?.map((address) => address.name ?? address.mailbox)).toEqual([
      '=?utf-8?B?SsO8cmdlbg==?=',
      '=?utf-8?q?Team?=',
      'a',
      null,
    ]);
    expect(result.cc?.[0]?.name).toBe('=?utf-8?q?B=C3=A9?=');
  });

  it('unquotes names and local parts, and keeps raw 8-bit (RFC 6532) text', () => {
    const result = envelope(
      headersOf(
        'From: "Joe Q. Public" <"john doe"@example.com>\nSubject: Grüße\nTo: Jürgen <j@bücher.example>\n\n',
      ),
    );
    expect(result.from).toEqual([
      { name: 'Joe Q. Public', adl: null, mailbox: 'john doe', host: 'example.com' },
    ]);
    expect(result.subject).toBe('Grüße');
    expect(result.to).toEqual([{ name: 'Jürgen', adl: null, mailbox: 'j', host: 'bücher.example' }]);
  });

  it('fills a missing local part or domain so that no mailbox reads as a group marker', () => {
    const result = envelope(headersOf('To: <postmaster>, Undisclosed recipients, a@[192.0.2.1]\n\n'));
    expect(result.to).toEqual([
      { name: null, adl: null, mailbox: 'postmaster', host: 'MISSING_DOMAIN' },
      { name: 'Undisclosed recipients', adl: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' },
      { name: null, adl: null, mailbox: 'a', host: '[192.0.2.1]' },
    ]);
  });

  it('drops an obsolete route: adl stays NIL', () => {
    expect(envelope(headersOf('From: <@route:user@domain>\n\n')).from).toEqual([
      { name: null, adl: null, mailbox: 'user', host: 'domain' },
    ]);
  });

  it('unfolds values, takes the first Date and Subject, and joins the addresses of repeated fields', () => {
    const text = [
      'Subject: a long',
      '\tsubject',
      'Subject: second',
      'Message-ID:',
      ' <folded@id>',
      'To: a@x.example',
      'To: b@y.example',
      'In-Reply-To: <p@id> (comment)',
      '',
    ].join('\r\n');
    const result = envelope(headersOf(text));
    expect(result.subject).toBe('a long\tsubject');
    expect(result.messageId).toBe('<folded@id>');
    expect(result.inReplyTo).toBe('<p@id> (comment)');
    expect(result.to?.map((address) => address.mailbox)).toEqual(['a', 'b']);
  });

  it('is plain JSON data', () => {
    const result = envelope(headersOf('From: A <a@x.example>\nTo: g: b@y.example;\nSubject: s\n\n'));
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('never throws and keeps `=` and `?` wherever they were written', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('=', '?', 'a', '@', '"', '<', '>', ',', ':', ';', ' ', '(', ')') }),
        (value) => {
          const result = envelope(headersOf(`From: ${value}\n\n`));
          for (const address of result.from ?? []) {
            for (const text of [address.name, address.mailbox, address.host]) {
              if (text !== null) expect(text).not.toMatch(/[\uD800-\uDFFF]/);
            }
          }
        },
      ),
    );
  });
});
