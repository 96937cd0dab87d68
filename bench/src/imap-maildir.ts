import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The mail of the IMAP server benchmark (imap.ts), written straight into Maildirs as either server would
 * have left them: every message in `cur/` with its flags in its name, and a `dovecot-uidlist` that numbers
 * them 1…n, so neither server assigns UIDs and both build their own index from the same files.
 */

/** One message to write, and what a FETCH of it must show. */
export interface BenchMessage {
  readonly text: string;
  /** System flags, as IMAP names them (`\Seen`, `\Answered`, `\Flagged`). */
  readonly flags: readonly string[];
  /** Its Message-ID header's value, `<…>`, which the ENVELOPE must carry. */
  readonly messageId: string;
}

const MAILDIR_LETTER: Record<string, string> = { '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S' };

/** Writes `messages` as the Maildir `dir` (INBOX of one user), UIDs 1…n in order. */
export function writeMaildir(dir: string, messages: readonly BenchMessage[], tag: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const time = Math.floor(Date.now() / 1000) - messages.length;
  const records = [`3 V${time} N${messages.length + 1} G${'0123456789abcdef'.repeat(2)}\n`];
  messages.forEach((message, index) => {
    const uid = index + 1;
    const size = Buffer.byteLength(message.text, 'latin1');
    const base = `${time + uid}.M${uid}P1.${tag},S=${size},W=${size}`;
    const letters = message.flags
      .map((flag) => MAILDIR_LETTER[flag])
      .sort()
      .join('');
    writeFileSync(join(dir, 'cur', `${base}:2,${letters}`), message.text, 'latin1');
    records.push(`${uid} :${base}\n`);
  });
  writeFileSync(join(dir, 'dovecot-uidlist'), records.join(''));
}

/** A small deterministic generator (mulberry32), so that every run writes the same mail. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Ann', 'Bob', 'Chloé', 'Dmitri', 'Eve', 'Fatima', 'Günter', 'Hiro', 'Ingrid', 'José'];
const MORE_FIRST = ['Kwame', 'Li', 'Maria', 'Nils', 'Olga', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tomás'];
const LAST = ['Example', 'Müller', "O'Brien", 'Nakamura', 'Dubois', 'Kowalski', 'García', 'Smith', 'Okafor'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'lists.example.io', 'corp.example.co.uk'];
const TOPICS = [
  'quarterly figures',
  'the release plan',
  'meeting notes',
  'travel expenses',
  'the new office',
  'onboarding',
  'security review',
  'budget for next year',
];
const WORDS = [
  'please',
  'find',
  'attached',
  'the',
  'summary',
  'we',
  'agreed',
  'on',
  'next',
  'steps',
  'thanks',
];
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An RFC 2047 encoded word for a non-ASCII phrase, B or Q as a mailer would pick. */
function encodedWord(text: string, q: boolean): string {
  if (!q) return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
  const bytes = Buffer.from(text, 'utf8');
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9!*+/-]/.test(char)
      ? char
      : char === ' '
        ? '_'
        : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `=?UTF-8?Q?${out}?=`;
}

/** A header phrase: as is, quoted when it has specials, or encoded when it is not ASCII. */
function phrase(text: string, rnd: () => number): string {
  if (/[^\x20-\x7e]/.test(text)) return encodedWord(text, rnd() < 0.5);
  if (/[(),.:;<>@[\]\\"']/.test(text)) return `"${text.replace(/["\\]/g, '\\$&')}"`;
  return text;
}

function address(rnd: () => number, pick: <T>(list: readonly T[]) => T): string {
  const first = rnd() < 0.5 ? pick(FIRST) : pick(MORE_FIRST);
  const last = pick(LAST);
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^A-Za-z.]/g, '')
    .toLowerCase();
  const mailbox = `${local}@${pick(DOMAINS)}`;
  const style = rnd();
  if (style < 0.15) return mailbox;
  if (style < 0.3) return `${phrase(`${last}, ${first}`, rnd)} <${mailbox}>`;
  return `${phrase(`${first} ${last}`, rnd)} <${mailbox}>`;
}

function date(n: number, rnd: () => number): string {
  const day = 1 + (n % 28);
  const month = (n >> 5) % 12;
  const hour = String(Math.floor(rnd() * 24)).padStart(2, '0');
  const minute = String(Math.floor(rnd() * 60)).padStart(2, '0');
  const zone = rnd() < 0.5 ? '+0000' : rnd() < 0.5 ? '-0500' : '+0100';
  const weekday = DAYS[(day + month) % 7];
  return `${weekday}, ${day} ${MONTHS[month]} 2026 ${hour}:${minute}:${String(n % 60).padStart(2, '0')} ${zone}`;
}

/** Folds a long header value at spaces, as mailers do (lines under 78 octets). */
function fold(name: string, value: string): string {
  let line = `${name}: `;
  let out = '';
  for (const word of value.split(' ')) {
    if (line.length + word.length + 1 > 76 && line.trim().length > name.length + 1) {
      out += `${line.trimEnd()}\r\n`;
      line = ' ';
    }
    line += `${word} `;
  }
  return `${out}${line.trimEnd()}\r\n`;
}

/**
 * Message `n` of a small realistic mailbox: varied From/To/Cc/Reply-To/Sender (display names plain,
 * quoted and RFC 2047-encoded, bare addresses, now and then a group), subjects with Re:/Fwd:/list tags,
 * some encoded and some folded, Received and DKIM-Signature lines, In-Reply-To/References on replies,
 * plain text or multipart/alternative bodies of 0.3–3 KB. `flagged` false keeps `\Flagged` off (the
 * sessions workload sets it).
 */
export function smallMessage(n: number, tag: string, { flagged = true } = {}): BenchMessage {
  const rnd = random(n * 7919 + tag.length);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const id = `${tag}-${n}.${Math.floor(rnd() * 1e9).toString(36)}`;
  const messageId = `<${id}@${pick(DOMAINS)}>`;
  const topic = pick(TOPICS);
  const kind = rnd();
  const reply = kind < 0.3;
  let subject: string;
  if (reply) subject = `Re: ${topic} (${n})`;
  else if (kind < 0.4) subject = `Fwd: Invoice #${10000 + n} for ${topic}`;
  else if (kind < 0.55) subject = `[dev-list] Proposal: ${topic}, take ${n % 7}`;
  else if (kind < 0.65) subject = encodedWord(`Café — ${topic} ${n}`, rnd() < 0.5);
  else if (kind < 0.75)
    subject = `A rather long subject line about ${topic} that goes on and on so that it has to be folded, number ${n}`;
  else subject = `${topic[0]!.toUpperCase()}${topic.slice(1)} ${n}`;
  const from = address(rnd, pick);
  const to =
    rnd() < 0.03
      ? 'undisclosed-recipients:;'
      : Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => address(rnd, pick)).join(', ');
  const relay = Math.floor(rnd() * 250) + 1;
  let head =
    `Return-Path: <bounce-${n}@${pick(DOMAINS)}>\r\n` +
    `Received: from mx${relay}.example.net (mx${relay}.example.net [192.0.2.${relay}])\r\n` +
    `\tby mail.example.org with ESMTPS id ${id.slice(-8)}\r\n\tfor <reader@example.org>; ${date(n, rnd)}\r\n`;
  if (rnd() < 0.4) {
    const signature = Buffer.from(id.repeat(12)).toString('base64');
    head += fold(
      'DKIM-Signature',
      `v=1; a=rsa-sha256; c=relaxed/relaxed; d=${pick(DOMAINS)}; s=s1; h=from:to:subject:date:message-id; bh=${signature.slice(0, 44)}; b=${signature}`,
    );
  }
  head += `From: ${from}\r\n`;
  if (rnd() < 0.05) head += `Sender: ${address(rnd, pick)}\r\n`;
  if (rnd() < 0.1) head += `Reply-To: ${address(rnd, pick)}\r\n`;
  head += fold('To', to);
  if (rnd() < 0.3)
    head += fold(
      'Cc',
      Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => address(rnd, pick)).join(', '),
    );
  head += fold('Subject', subject);
  head += `Date: ${date(n, rnd)}\r\nMessage-ID: ${messageId}\r\n`;
  if (reply) {
    const parent = `<${tag}-${Math.max(1, n - 3)}.parent@${pick(DOMAINS)}>`;
    head += `In-Reply-To: ${parent}\r\nReferences: <${tag}-root.${n % 97}@example.com> ${parent}\r\n`;
  }
  if (subject.startsWith('[dev-list]')) head += 'List-Id: Developers <dev.lists.example.io>\r\n';
  if (rnd() < 0.3)
    head += `X-Mailer: ${pick(['Thunderbird 115.8', 'Apple Mail (2.3731)', 'Postwire bench'])}\r\n`;
  head += 'MIME-Version: 1.0\r\n';

  let text = '';
  const length = 300 + Math.floor(rnd() * 2700);
  while (text.length < length) {
    let line = '';
    while (line.length < 60) line += `${pick(WORDS)} `;
    text += `${line.trimEnd()}\r\n`;
  }
  let body: string;
  if (rnd() < 0.2) {
    const boundary = `=_bench_${id}`;
    head += `Content-Type: multipart/alternative; boundary="${boundary}"\r\n`;
    body =
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}` +
      `--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>${text.replace(/\r\n/g, '<br>\r\n')}</p>\r\n` +
      `--${boundary}--\r\n`;
  } else {
    head += 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n';
    body = text;
  }
  const flags: string[] = [];
  if (rnd() < 0.7) flags.push('\\Seen');
  if (rnd() < 0.1) flags.push('\\Answered');
  if (flagged && rnd() < 0.05) flags.push('\\Flagged');
  return { text: `${head}\r\n${body}`, flags, messageId };
}

/**
 * Message `n` of the bodies mailbox: exactly `size` octets of CRLF text, the Message-ID first (so the first
 * octets of a FETCHed body tell which message it is), lines of 76 octets.
 */
export function largeMessage(n: number, size: number): BenchMessage {
  const id = String(n).padStart(4, '0');
  const messageId = `<bench-imap-body-${id}@example.com>`;
  const words = ['quarterly', 'figures', 'attached', 'summary', 'follows', 'revenue', 'costs', 'margin'];
  let text =
    `Message-ID: ${messageId}\r\nFrom: Ann Example <ann@example.com>\r\nTo: reader@example.org\r\n` +
    `Subject: Report ${id}\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n';
  const lines: string[] = [];
  for (let line = 0; text.length + (lines.length + 1) * 76 + 80 <= size; line++) {
    let content = '';
    for (let w = n + line; content.length < 74; w++) content += `${words[w % words.length]} `;
    lines.push(`${content.slice(0, 74)}\r\n`);
  }
  text += lines.join('');
  text += `${'x'.repeat(size - text.length - 2)}\r\n`;
  if (text.length !== size) throw new Error(`message ${n} has ${text.length} octets`);
  return { text, flags: ['\\Seen'], messageId };
}
