/**
 * A small mailbox of varied messages for comparing IMAP servers: what mail clients meet every day
 * (plain text, multipart/alternative with quoted-printable, a base64 attachment, a forwarded
 * message/rfc822, RFC 2047 encoded words and an 8bit UTF-8 body, a folded subject and a missing Date),
 * each with its flags and INTERNALDATE. All texts have CRLF line ends.
 */

/** One message of the corpus. */
export interface CorpusMessage {
  /** A short name for test titles. */
  readonly name: string;
  readonly text: string;
  readonly flags: readonly string[];
  readonly internalDate: Date;
}

/** Lines joined with CRLF, with a final CRLF. */
function crlf(lines: readonly string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

/** `bytes` in base64, in lines of 76 characters (RFC 2045 §6.8). */
function base64Lines(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines;
}

/** A made-up "PDF": a header and bytes of every value, so the base64 body is not plain text. */
const ATTACHMENT = Uint8Array.from([
  ...Buffer.from('%PDF-1.4\n% Quarterly figures\n'),
  ...Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256),
]);

export const PLAIN = crlf([
  'Return-Path: <bob@example.org>',
  'From: Bob Example <bob@example.org>',
  'To: Alice <alice@example.org>, carol@example.net',
  'Cc: "Dave, Jr." <dave@example.com>',
  'Subject: Lunch on Friday?',
  'Date: Mon, 01 Jan 2024 12:00:00 +0000',
  'Message-ID: <plain-1@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Hi Alice,',
  '',
  'Shall we have lunch on Friday? The usual place at noon.',
  '',
  'Bob',
]);

export const ALTERNATIVE = crlf([
  'From: =?UTF-8?Q?Ren=C3=A9e_M=C3=BCller?= <renee@example.de>',
  'To: alice@example.org',
  'Subject: Quarterly report',
  'Date: Tue, 2 Jan 2024 09:30:00 +0100',
  'Message-ID: <alt-2@example.de>',
  'In-Reply-To: <plain-1@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="alt-boundary"',
  '',
  'This is a multi-part message in MIME format.',
  '',
  '--alt-boundary',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'The report is ready for review. Gr=C3=BC=C3=9Fe, Ren=C3=A9e',
  '--alt-boundary',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<html><body><p>The report is <b>ready</b> for review.</p></body></html>',
  '--alt-boundary--',
]);

export const ATTACHED = crlf([
  'From: Carol <carol@example.net>',
  'To: Alice <alice@example.org>',
  'Subject: Figures attached',
  'Date: Wed, 3 Jan 2024 16:45:10 -0500',
  'Message-ID: <att-3@example.net>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary=mixed-3',
  '',
  '--mixed-3',
  'Content-Type: text/plain; charset=us-ascii',
  'Content-Language: en',
  '',
  'Here are the quarterly figures, see the attachment.',
  '',
  '--mixed-3',
  'Content-Type: application/pdf; name="figures.pdf"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="figures.pdf"',
  'Content-Description: Quarterly figures',
  'Content-ID: <figures@example.net>',
  '',
  ...base64Lines(ATTACHMENT),
  '--mixed-3--',
]);

export const FORWARDED = crlf([
  'From: Dave <dave@example.com>',
  'Sender: Secretary <secretary@example.com>',
  'Reply-To: Dave Private <dave.private@example.com>',
  'To: undisclosed-recipients:;',
  'Subject: Fwd: Quarterly report',
  'Date: Thu, 4 Jan 2024 08:00:00 +0000',
  'Message-ID: <fwd-4@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer-4"',
  '',
  '--outer-4',
  'Content-Type: text/plain',
  '',
  'Forwarding this, see below.',
  '--outer-4',
  'Content-Type: message/rfc822',
  'Content-Disposition: inline',
  '',
  'From: Renee <renee@example.de>',
  'To: dave@example.com',
  'Subject: Quarterly report',
  'Date: Tue, 2 Jan 2024 09:30:00 +0100',
  'Message-ID: <inner-4@example.de>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary=inner-alt',
  '',
  '--inner-alt',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'The inner report text.',
  '--inner-alt',
  'Content-Type: text/html; charset=us-ascii',
  '',
  '<p>The inner report text.</p>',
  '--inner-alt--',
  '',
  '--outer-4--',
]);

export const ENCODED = crlf([
  'From: =?ISO-8859-1?Q?J=F6rg_Sch=E4fer?= <joerg@example.de>',
  'To: =?UTF-8?B?QWxpY2UgV8O2bGZs?= <alice@example.org>',
  'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=',
  'Date: Fri, 5 Jan 2024 18:20:00 +0100',
  'Message-ID: <utf8-5@example.de>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=UTF-8; format=flowed',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Liebe Alice, herzliche Grüße aus München! Das Oktoberfest war schön.',
  '',
  'Jörg',
]);

export const FOLDED = crlf([
  'From: notifications@example.org',
  'To: alice@example.org',
  'Subject: A very long subject line that a careful mail program',
  ' folds onto a second line',
  'X-Tracking: abc-123',
  '',
  'No date, no message id, no MIME headers.',
]);

/** A forwarded message whose encapsulated message is not multipart: its body is its part 1. */
export const FORWARDED_SIMPLE = crlf([
  'From: Dave <dave@example.com>',
  'To: alice@example.org',
  'Subject: Fwd: lunch',
  'Date: Sat, 6 Jan 2024 10:00:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary=simple-7',
  '',
  '--simple-7',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'See below.',
  '--simple-7',
  'Content-Type: message/rfc822',
  '',
  'From: Bob <bob@example.org>',
  'Subject: lunch',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Lunch at noon, caf=C3=A9 on the corner.',
  '--simple-7--',
]);

/**
 * Addresses as they come in real mail: a quoted display name with a comma and a trailing comment, a
 * group with members and an empty one, a quoted local part, an address literal, encoded words in a
 * display name and split across words in the Subject; RFC 2231 parameters (continuations, charset) and
 * a Content-Location.
 */
export const ADDRESSES = crlf([
  'From: "Smith, John" <john.smith@example.com> (Work)',
  'Sender: bob@example.org (Bob Comment)',
  'Reply-To: Team: ann@example.org, "Ben B." <ben@example.org>;, solo@example.org',
  'To: "quoted local"@example.org, <angle-only@example.org>, Mary <mary@[192.0.2.1]>',
  'Cc: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.de>, undisclosed:;',
  'Bcc: hidden@example.org',
  'Subject: =?UTF-8?Q?multi?= =?UTF-8?Q?ple?= encoded words',
  'Date: Sun, 7 Jan 2024 23:59:59 -1200',
  'Message-ID: <addr-8@example.com>',
  'In-Reply-To: <a@example.com> <b@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset="iso-8859-1"; name*0="long-"; name*1="name.txt"',
  'Content-Transfer-Encoding: quoted-printable',
  "Content-Disposition: inline; filename*=UTF-8''caf%C3%A9.txt",
  'Content-Location: http://example.com/cafe.txt',
  '',
  'caf=E9',
]);

/** The INBOX of the corpus, in UID order. */
export const INBOX_MESSAGES: readonly CorpusMessage[] = [
  { name: 'plain', text: PLAIN, flags: ['\\Seen'], internalDate: new Date('2024-01-01T12:05:00Z') },
  {
    name: 'multipart/alternative',
    text: ALTERNATIVE,
    flags: ['\\Flagged', 'Work'],
    internalDate: new Date('2024-01-02T12:00:00Z'),
  },
  {
    name: 'attachment',
    text: ATTACHED,
    flags: ['\\Seen', 'Work'],
    internalDate: new Date('2024-01-04T12:00:00Z'),
  },
  { name: 'message/rfc822', text: FORWARDED, flags: [], internalDate: new Date('2024-01-05T12:00:00Z') },
  {
    name: 'encoded words',
    text: ENCODED,
    flags: ['\\Answered', '\\Seen', '$Label1'],
    internalDate: new Date('2024-01-06T12:00:00Z'),
  },
  { name: 'folded, no date', text: FOLDED, flags: [], internalDate: new Date('2024-01-07T12:00:00Z') },
];

/** Archive's messages. */
export const ARCHIVE_MESSAGES: readonly CorpusMessage[] = [
  {
    name: 'archived plain',
    text: PLAIN.replace('Lunch on Friday?', 'Old lunch').replace('plain-1', 'old-1'),
    flags: ['\\Seen'],
    internalDate: new Date('2023-06-01T12:00:00Z'),
  },
  { name: 'archived unseen', text: FOLDED, flags: [], internalDate: new Date('2023-07-01T12:00:00Z') },
  { name: 'addresses', text: ADDRESSES, flags: ['\\Seen'], internalDate: new Date('2023-08-01T12:00:00Z') },
];

/** Archive/2023's messages. */
export const ARCHIVE_2023_MESSAGES: readonly CorpusMessage[] = [
  {
    name: 'forwarded simple',
    text: FORWARDED_SIMPLE,
    flags: ['\\Seen'],
    internalDate: new Date('2023-12-01T12:00:00Z'),
  },
];
