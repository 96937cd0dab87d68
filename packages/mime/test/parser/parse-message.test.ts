import { decodeLatin1, utf8 } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { parseDeliveryStatus } from '../../src/parser/delivery-status.js';
import { headerValue, headerValues } from '../../src/parser/header-value.js';
import { parseMessage, parseMessageSync } from '../../src/parser/parse-message.js';

const crlf = (text: string) => text.replace(/\n/g, '\r\n');
const codes = (message: { defects: { code: string }[] }) => message.defects.map((defect) => defect.code);

const rich = crlf(`From: =?utf-8?B?SsO2cmc=?= <jorg@example.com>
To: a@example.com, Team: b@example.com, c@example.com;
Cc: d@example.com
To: e@example.com
Reply-To: r@example.com
Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?= and
 more
Message-ID: <id-1@example.com>
In-Reply-To: <id-0@example.com> <id-00@example.com>
References: <id-00@example.com>
 <id-0@example.com>
Date: Tue, 1 Jul 2003 10:52:37 +0200
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mix

--mix
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes
Content-Transfer-Encoding: quoted-printable

Hello =C3=BCber=20
all
--alt
Content-Type: multipart/related; boundary=rel

--rel
Content-Type: text/html; charset=utf-8

<p>Hello <img src="cid:img1"></p>
--rel
Content-Type: image/png
Content-ID: <img1@example.com>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--alt--
--mix
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9 <&>
--mix
Content-Type: text/calendar; method=REQUEST; charset=utf-8

BEGIN:VCALENDAR
--mix
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="=?utf-8?Q?r=C3=A9port.pdf?="
Content-Transfer-Encoding: base64

JVBERi0=
--mix
Content-Type: text/plain; name=notes.txt

a named text part
--mix--
`);

describe('parseMessageSync', () => {
  const message = parseMessageSync(rich);

  it('reads the envelope fields', () => {
    expect(message.from).toEqual([
      { name: 'J\u00f6rg', address: 'jorg@example.com', local: 'jorg', domain: 'example.com' },
    ]);
    expect(message.to.map((address) => ('group' in address ? address.group : address.address))).toEqual([
      'a@example.com',
      'Team',
      'e@example.com',
    ]);
    expect(message.cc).toHaveLength(1);
    expect(message.bcc).toEqual([]);
    expect(message.replyTo).toHaveLength(1);
    expect(message.sender).toEqual([]);
    expect(message.subject).toBe('Gr\u00fc\u00dfe and more');
    expect(message.messageId).toBe('id-1@example.com');
    expect(message.inReplyTo).toBe('id-0@example.com');
    expect(message.references).toEqual(['id-00@example.com', 'id-0@example.com']);
    expect(message.date?.text).toBe('Tue, 1 Jul 2003 10:52:37 +0200');
    expect(message.date?.date?.toISOString()).toBe('2003-07-01T08:52:37.000Z');
    expect(message.headers.map((field) => field.key)).toContain('mime-version');
    expect(headerValue(message.headers, 'Subject')).toBe('Gr\u00fc\u00dfe and more');
    expect(headerValue(message.headers, 'X-None')).toBeUndefined();
    expect(headerValues(message.headers, 'to')).toHaveLength(2);
  });

  it('picks the text and HTML bodies and joins inline text parts', () => {
    expect(message.text).toBe('Hello \u00fcberall\ncaf\u00e9 <&>');
    expect(message.html).toBe(
      '<p>Hello <img src="cid:img1"></p>\n<div style="white-space: pre-wrap">caf\u00e9 &lt;&amp;&gt;</div>',
    );
  });

  it('lists the attachments', () => {
    expect(
      message.attachments.map(
        ({ filename, contentType, disposition, contentId, size, path, charset, related }) => ({
          filename,
          contentType,
          disposition,
          contentId,
          size,
          path,
          charset,
          related,
        }),
      ),
    ).toEqual([
      {
        filename: undefined,
        contentType: 'image/png',
        disposition: undefined,
        contentId: 'img1@example.com',
        size: 8,
        path: '1.2.2',
        charset: undefined,
        related: true,
      },
      {
        filename: undefined,
        contentType: 'text/calendar',
        disposition: undefined,
        contentId: undefined,
        size: 15,
        path: '3',
        charset: 'utf-8',
        related: false,
      },
      {
        filename: 'r\u00e9port.pdf',
        contentType: 'application/pdf',
        disposition: 'attachment',
        contentId: undefined,
        size: 5,
        path: '4',
        charset: undefined,
        related: false,
      },
      {
        filename: 'notes.txt',
        contentType: 'text/plain',
        disposition: undefined,
        contentId: undefined,
        size: 17,
        path: '5',
        charset: undefined,
        related: false,
      },
    ]);
    expect(decodeLatin1(message.attachments[2]!.content)).toBe('%PDF-');
  });

  it('builds the MIME tree with offsets and line counts', () => {
    const root = message.parts;
    expect(root.path).toBe('');
    expect(root.children.map((part) => part.path)).toEqual(['1', '2', '3', '4', '5']);
    const plain = root.children[0]!.children[0]!;
    expect(plain.path).toBe('1.1');
    expect(plain.lines).toBe(2);
    const bytes = utf8(rich);
    expect(decodeLatin1(bytes.subarray(plain.bodyStart, plain.end))).toBe('Hello =C3=BCber=20\r\nall');
    expect(plain.size).toBe(plain.end - plain.bodyStart);
    expect(root.end).toBe(bytes.length);
    expect(message.defects).toEqual([]);
    expect(message.deliveryStatus).toBeUndefined();
  });

  it('accepts a string or bytes alike, and parseMessage any input', async () => {
    const fromBytes = parseMessageSync(utf8(rich));
    expect(fromBytes.text).toBe(message.text);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = utf8(rich);
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.subarray(i, i + 7));
        controller.close();
      },
    });
    const streamed = await parseMessage(stream);
    expect(streamed.attachments.map((attachment) => attachment.size)).toEqual([8, 15, 5, 17]);
    expect((await parseMessage(rich)).html).toBe(message.html);
    async function* empty(): AsyncIterable<Uint8Array> {}
    expect((await parseMessage(empty())).parts.size).toBe(0);
  });

  it('keeps an html-only message without text, and a text-only one without html', () => {
    const html = parseMessageSync('Content-Type: text/html\r\n\r\n<b>x</b>');
    expect([html.text, html.html]).toEqual([undefined, '<b>x</b>']);
    const text = parseMessageSync('Subject: s\r\n\r\nplain');
    expect([text.text, text.html]).toEqual(['plain', undefined]);
    expect(text.date).toBeUndefined();
    expect(text.subject).toBe('s');
  });

  it('reads an inline message/rfc822 as body and others as attachments holding the raw message', () => {
    const embedded = 'Subject: inner\r\n\r\ninner text';
    const build = (disposition: string) =>
      `${crlf(`Content-Type: multipart/mixed; boundary=m\n\n--m\n\nouter text\n--m\nContent-Type: message/rfc822\n${disposition}\n`)}${embedded}\r\n--m--\r\n`;
    const inline = parseMessageSync(build('Content-Disposition: inline\r\n'));
    expect(inline.text).toBe('outer text\ninner text');
    expect(inline.attachments).toEqual([]);
    const attached = parseMessageSync(build(''));
    expect(attached.text).toBe('outer text');
    expect(attached.attachments).toHaveLength(1);
    expect(decodeLatin1(attached.attachments[0]!.content)).toBe(embedded);
    expect(attached.parts.children[1]!.message?.path).toBe('2');
    const forced = parseMessageSync(build('Content-Disposition: inline\r\n'), { rfc822Attachments: true });
    expect(forced.attachments.map((attachment) => attachment.contentType)).toEqual(['message/rfc822']);
  });

  it('reports an unknown charset and still decodes', () => {
    const message = parseMessageSync('Content-Type: text/plain; charset=x-unknown-thing\r\n\r\nhello');
    expect(message.text).toBe('hello');
    expect(codes(message)).toContain('unknown-charset');
  });

  it('case 39: a Subject that decodes to CR LF is flagged, and maxEncodedWords applies to it', () => {
    const message = parseMessageSync('Subject: =?utf-8?q?a=0D=0ABcc:_x?=\r\n\r\nbody');
    expect(message.subject).toBe('a\uFFFD\uFFFDBcc: x');
    expect(message.defects).toEqual([
      { code: 'control-characters', message: 'Subject: control-characters', part: '' },
    ]);
    const limited = parseMessageSync('Subject: =?utf-8?q?a?= =?utf-8?q?b?=\r\n\r\n', {
      limits: { maxEncodedWords: 1 },
    });
    expect(limited.subject).toBe('a =?utf-8?q?b?=');
    expect(codes(limited)).toEqual(['limit-maxEncodedWords']);
  });

  it('case 33: exposes every From and flags the ambiguity', () => {
    const message = parseMessageSync(
      crlf(
        ' From: a@evil.example\nFrom: b@good.example\nFrom : c@evil.example\nFrom\n : d@evil.example\nTo: x@y\n\nbody',
      ),
    );
    expect(message.from.map((address) => ('address' in address ? address.address : ''))).toEqual([
      'a@evil.example',
      'b@good.example',
      'c@evil.example',
      'd@evil.example',
    ]);
    expect(codes(message)).toEqual(
      expect.arrayContaining([
        'leading-whitespace',
        'space-before-colon',
        'multiple-from',
        'multiple-from-mailboxes',
      ]),
    );
    const two = parseMessageSync('From: <a@x>, <b@y>\r\n\r\n');
    expect(two.from).toHaveLength(2);
    expect(codes(two)).toEqual(['multiple-from-mailboxes']);
    const withSender = parseMessageSync('From: <a@x>, <b@y>\r\nSender: a@x\r\n\r\n');
    expect(codes(withSender)).toEqual([]);
    const encoded = parseMessageSync(
      'From: =?utf-8?B?PGFkbWluQGxlZ2l0aW1hdGUuY29tPg==?=,<s@attack.com>\r\n\r\n',
    );
    expect(encoded.from.map((address) => ('address' in address ? address.address : ''))).not.toContain(
      'admin@legitimate.com',
    );
  });

  it('reads a delivery report (RFC 3464)', () => {
    const report = parseMessageSync(
      crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary=r

--r

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Arrival-Date: Mon, 10 Oct 2022 01:37:21 -0400

Final-Recipient: rfc822; a@example.com
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 No such
 user here

Final-Recipient: rfc822; b@example.com
Action: delayed
Status: 4.0.0

--r
Content-Type: text/rfc822-headers

Subject: original
--r--
`),
    );
    expect(report.text).toBe('Your message could not be delivered.');
    expect(report.attachments.map((attachment) => attachment.contentType)).toEqual([
      'message/delivery-status',
      'text/rfc822-headers',
    ]);
    expect(report.deliveryStatus?.message['reporting-mta']).toBe('dns; mx.example.com');
    expect(report.deliveryStatus?.recipients.map((recipient) => recipient.status)).toEqual([
      '5.0.0',
      '4.0.0',
    ]);
    expect(report.deliveryStatus?.recipients[0]?.['diagnostic-code']).toBe('smtp; 550 No such user here');
  });
});

describe('parseDeliveryStatus', () => {
  it('reads bare-LF blocks, skips empty ones and keeps the first of a repeated field', () => {
    const status = parseDeliveryStatus(utf8('\n\nA: 1\nA: 2\n\n\n\nB: 3'));
    expect(status.message).toEqual({ a: '1' });
    expect(status.recipients).toEqual([{ b: '3' }]);
    expect(parseDeliveryStatus(new Uint8Array(0))).toEqual({ message: {}, recipients: [] });
  });
});

describe('multipart/alternative whose rich version is a mixed multipart', () => {
  it('takes the plain-text alternative as text, not the footer of the rich one', () => {
    const message = parseMessageSync(
      crlf(`Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain

Plain version
--alt
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/html

<p>Rich version</p>
--mix
Content-Type: text/plain

Footer
--mix--
--alt--
`),
    );
    expect(message.text).toBe('Plain version');
    expect(message.html).toBe('<p>Rich version</p>\n<div style="white-space: pre-wrap">Footer</div>');
  });
});

describe('multipart/related with a start parameter (RFC 2387)', () => {
  it('reads the part that start names as the body, and the first part as a resource', () => {
    const message = parseMessageSync(
      crlf(`Content-Type: multipart/related; boundary="rel"; start="<root@x>"; type="text/html"

--rel
Content-Type: text/html
Content-ID: <style@x>
Content-Disposition: inline

<p>not the root</p>
--rel
Content-Type: text/html
Content-ID: <root@x>

<p>the root</p>
--rel--
`),
    );
    expect(message.html).toBe('<p>the root</p>');
    expect(message.attachments.map((a) => ({ contentId: a.contentId, related: a.related }))).toEqual([
      { contentId: 'style@x', related: true },
    ]);
  });
});
