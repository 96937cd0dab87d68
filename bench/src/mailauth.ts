import { generateKeyPairSync } from 'node:crypto';
import { type DnsResolver, signDkim, verifyDkim } from '@postwire/mailauth';
import { nodeSha256 } from '@postwire/mailauth/node';
import type { DKIMSignOptions } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { compareThroughput, type Workload } from './measure.js';
import type { Row } from './report.js';

const PEER = 'mailauth (npm)';
const DOMAIN = 'example.com';
const CANONICALIZATION = 'relaxed/relaxed';

/** A signing key and the selector its public key is published under. */
interface Key {
  readonly selector: string;
  readonly algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** PKCS #8 PEM, given as it is to both signers. */
  readonly privateKey: string;
}

/** Fresh RSA-2048 and Ed25519 keys, and their key records (RFC 6376 §3.6.1, RFC 8463) by DNS name. */
function makeKeys(): { rsa: Key; ed25519: Key; txt: Map<string, string[][]> } {
  const txt = new Map<string, string[][]>();
  const rsaPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const edPair = generateKeyPairSync('ed25519');
  const rsaP = rsaPair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  // RFC 8463: the bare 32-byte key, the last 32 bytes of its SubjectPublicKeyInfo.
  const edP = edPair.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  // An RSA-2048 record is longer than a TXT character-string (255 bytes), so it is split as in real zones.
  const record = (text: string) => [text.match(/.{1,255}/g)!];
  txt.set(`rsa2048._domainkey.${DOMAIN}`, record(`v=DKIM1; k=rsa; p=${rsaP}`));
  txt.set(`ed25519._domainkey.${DOMAIN}`, record(`v=DKIM1; k=ed25519; p=${edP}`));
  const pem = (key: typeof rsaPair.privateKey) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    rsa: { selector: 'rsa2048', algorithm: 'rsa-sha256', privateKey: pem(rsaPair.privateKey) },
    ed25519: { selector: 'ed25519', algorithm: 'ed25519-sha256', privateKey: pem(edPair.privateKey) },
    txt,
  };
}

/** Our resolver: TXT answers from the map, every other name and type does not exist. */
function ourResolver(txt: Map<string, string[][]>): DnsResolver {
  return {
    txt: async (name) => txt.get(name.toLowerCase()) ?? null,
    a: async () => null,
    aaaa: async () => null,
    mx: async () => null,
    ptr: async () => null,
  };
}

/** mailauth's resolver (a `dns.promises.resolve` stand-in): the same answers, ENOTFOUND otherwise. */
function peerResolver(txt: Map<string, string[][]>) {
  return async (name: string, type: string): Promise<string[][]> => {
    const records = type === 'TXT' ? txt.get(name.toLowerCase()) : undefined;
    if (records === undefined)
      throw Object.assign(new Error(`query${type} ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return records;
  };
}

/** Deterministic pseudo-random numbers (a 32-bit LCG), so that every run measures the same messages. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = (
  'the quarterly figures are attached and we will go through them at the board meeting next week ' +
  'please check the numbers for your region before Friday revenue grew everywhere except in the north ' +
  'where shipping delays held back orders for most of October Grüße aus Köln — see the notes below ' +
  'invoice 2026-0117 https://intranet.example.com/reports/q3?view=summary&lang=en'
).split(' ');

/**
 * A plain-text body of exactly `size` bytes as mail clients write it: CRLF lines mostly of 40 to 76
 * characters, some short, some long unwrapped paragraphs (up to 900 characters), quoted reply lines, runs
 * of spaces, trailing spaces and tabs, blank lines, a signature block, and blank lines at the end (which
 * both canonicalizations remove) to make up the size.
 */
function textBody(size: number, seed: number): string {
  const random = lcg(seed);
  const word = () => WORDS[Math.floor(random() * WORDS.length)]!;
  const lineOf = (length: number) => {
    let line = word();
    while (line.length < length) line += (random() < 0.05 ? '  ' : ' ') + word();
    return line;
  };
  const closing = ['', '-- ', 'Ann Example', 'Finance, Example Inc.'];
  const bytesOf = (lines: readonly string[]) =>
    lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 2, 0);
  const room = size - bytesOf(closing);
  const lines: string[] = ['Hi Bob,', ''];
  let bytes = bytesOf(lines);
  for (;;) {
    const kind = random();
    let line: string;
    if (kind < 0.08) line = '';
    else if (kind < 0.18) line = lineOf(Math.floor(random() * 20));
    else if (kind < 0.24) line = lineOf(150 + Math.floor(random() * 750));
    else if (kind < 0.34) line = `> ${lineOf(30 + Math.floor(random() * 40))}`;
    else line = lineOf(40 + Math.floor(random() * 30));
    if (random() < 0.15) line += random() < 0.5 ? '  ' : ' \t';
    const left = room - bytes - 2;
    if (left < 0) break;
    if (Buffer.byteLength(line) > left) {
      // The line that does not fit is cut at a word to the room left, and is the last.
      while (Buffer.byteLength(line) > left) line = line.slice(0, Math.max(0, line.lastIndexOf(' ')));
      lines.push(line);
      break;
    }
    lines.push(line);
    bytes += Buffer.byteLength(line) + 2;
  }
  lines.push(...closing);
  return `${lines.join('\r\n')}\r\n${padding(size - bytesOf(lines))}`;
}

/** `gap` bytes of trailing white space: empty lines, after one SP when `gap` is odd. */
function padding(gap: number): string {
  return `${gap % 2 === 1 ? ' ' : ''}${'\r\n'.repeat(gap >> 1)}`;
}

/** The header of the message as its sender's server signs it: one Received line (the submission) above. */
function sentHeader(contentType: string[]): string[] {
  return [
    'Received: from [10.0.0.12] (unknown [198.51.100.7])',
    '\tby mail.example.com (Postfix) with ESMTPSA id 4Xk2pP6ZrHz2xYt;',
    '\tTue, 24 Nov 2026 10:15:41 +0000 (UTC)',
    'From: "Ann Example" <ann@example.com>',
    'To: =?utf-8?Q?Bob_M=C3=BCller?= <bob@example.org>,  carol@example.net',
    'Cc: "Dave Doe" <dave@example.net>',
    'Subject:  Re: Quarterly figures for the board meeting  ',
    ' (Q3 2026, with the regional breakdown)',
    'Date: Tue, 24 Nov 2026 10:15:40 +0000',
    'Message-ID: <20261124101540.4Xk2pP6ZrHz2xYt@mail.example.com>',
    'In-Reply-To: <c2a1e0b7-5f3d-4f7e-9a4c-1d2e3f4a5b6c@example.org>',
    'References: <8b7c6d5e-4f3a-2b1c-0d9e-8f7a6b5c4d3e@example.com>',
    ' <c2a1e0b7-5f3d-4f7e-9a4c-1d2e3f4a5b6c@example.org>',
    'MIME-Version: 1.0',
    ...contentType,
    'User-Agent: Mozilla Thunderbird',
    'Content-Language: en-GB',
  ];
}

/** The 10 KB message (10,240 bytes): text/plain, 8bit UTF-8. */
function smallMessage(): Buffer {
  const header = sentHeader([
    'Content-Type: text/plain; charset=UTF-8; format=flowed',
    'Content-Transfer-Encoding: 8bit',
  ]).join('\r\n');
  return Buffer.from(`${header}\r\n\r\n${textBody(10_240 - Buffer.byteLength(header) - 4, 7)}`);
}

/** The 1 MB message (1,000,000 bytes): a text part and a base64 PDF attachment, multipart/mixed. */
function largeMessage(): Buffer {
  const boundary = '------------4Xk2pP6ZrHz2xYtB0undary';
  const header = sentHeader([`Content-Type: multipart/mixed; boundary="${boundary}"`]).join('\r\n');
  const text = textBody(6_000, 11);
  const head = [
    header,
    '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`,
    'Content-Type: text/plain; charset=UTF-8; format=flowed',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    `--${boundary}`,
    'Content-Type: application/pdf; name="figures-q3-2026.pdf"',
    'Content-Disposition: attachment; filename="figures-q3-2026.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  const tail = `\r\n--${boundary}--\r\n`;
  // Base64 in lines of 76 characters and CRLF: 78 bytes per 57 bytes of attachment.
  const room = 1_000_000 - Buffer.byteLength(head) - tail.length;
  const random = lcg(13);
  const attachment = Buffer.alloc(Math.floor((room / 78) * 57));
  for (let i = 0; i < attachment.length; i++) attachment[i] = Math.floor(random() * 256);
  const base64 = attachment
    .toString('base64')
    .match(/.{1,76}/g)!
    .join('\r\n');
  const message = `${head}${base64}${tail}`;
  // The epilogue makes up the size: what the base64 lines leave, under 78 bytes.
  return Buffer.from(`${message}${padding(1_000_000 - Buffer.byteLength(message))}`);
}

/** The trace fields the receiving server adds above the signature. */
const RECEIVED =
  'Return-Path: <ann@example.com>\r\n' +
  'Received: from mail.example.com (mail.example.com [192.0.2.25])\r\n' +
  '\tby mx.example.org (Postfix) with ESMTPS id 4Xk2pQ0bz1z9sW\r\n' +
  '\tfor <bob@example.org>; Tue, 24 Nov 2026 10:15:42 +0000 (UTC)\r\n';

/** The message as received: trace fields, the signature fields, the message as signed. */
function received(signatures: string, message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(RECEIVED + signatures), message]);
}

/** The operations under test for both libraries: a verification gives its result, a signing its field. */
function operations(txt: Map<string, string[][]>) {
  const resolver = ourResolver(txt);
  const peerOptions = { resolver: peerResolver(txt) };
  return {
    async ourSign(message: Buffer, key: Key): Promise<string> {
      const fields = await signDkim(
        message,
        {
          domain: DOMAIN,
          selector: key.selector,
          privateKey: key.privateKey,
          algorithm: key.algorithm,
          canonicalization: CANONICALIZATION,
        },
        { sha256: nodeSha256 },
      );
      if (!fields.startsWith('DKIM-Signature:')) throw new Error(`ours signed nothing: ${fields}`);
      return fields;
    },
    async peerSign(message: Buffer, key: Key): Promise<string> {
      // Its index.d.ts wants the signer's fields at the top; lib/dkim/dkim-signer.js reads signatureData.
      const options = {
        canonicalization: CANONICALIZATION,
        signatureData: [
          {
            signingDomain: DOMAIN,
            selector: key.selector,
            privateKey: key.privateKey,
            algorithm: key.algorithm,
          },
        ],
      } as DKIMSignOptions;
      const { signatures, errors } = await dkimSign(message, options);
      if (errors.length > 0 || !signatures.startsWith('DKIM-Signature:'))
        throw new Error(`${PEER} did not sign: ${JSON.stringify(errors)}`);
      return signatures;
    },
    async ourVerify(message: Buffer): Promise<string> {
      const results = await verifyDkim(message, { resolver, sha256: nodeSha256 });
      return results.length === 1 ? results[0]!.result : `${results.length} results`;
    },
    async peerVerify(message: Buffer): Promise<string> {
      const { results } = await dkimVerify(message, peerOptions);
      return results.length === 1 ? results[0]!.status.result : `${results.length} results`;
    },
  };
}

type Operations = ReturnType<typeof operations>;

/**
 * Before any timing: each library verifies its own signature and the other's on `message` (a pass from
 * both, four times), and neither passes the message with one body byte changed.
 */
async function crossCheck(ops: Operations, label: string, message: Buffer, key: Key): Promise<void> {
  const signers = { ours: await ops.ourSign(message, key), [PEER]: await ops.peerSign(message, key) };
  for (const [signer, signature] of Object.entries(signers)) {
    const signed = received(signature, message);
    const results = { ours: await ops.ourVerify(signed), [PEER]: await ops.peerVerify(signed) };
    for (const [verifier, result] of Object.entries(results)) {
      if (result !== 'pass')
        throw new Error(`${label}: ${verifier} gave ${result} for the signature of ${signer}, not pass`);
    }
    const tampered = Buffer.from(signed);
    const at = tampered.length - (message.length >> 1);
    tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41;
    const tamperedResults = { ours: await ops.ourVerify(tampered), [PEER]: await ops.peerVerify(tampered) };
    for (const [verifier, result] of Object.entries(tamperedResults)) {
      if (result === 'pass')
        throw new Error(`${label}: ${verifier} passed a changed body signed by ${signer}`);
    }
  }
}

/**
 * `count` operations one after another, each awaited. compareThroughput reports MB (10^6 bytes) a second;
 * counting each operation as 10^6 bytes makes its figure operations a second.
 */
function repeated(count: number, once: () => Promise<string>, expect?: string): Workload {
  return {
    bytes: count * 1e6,
    async run() {
      for (let i = 0; i < count; i++) {
        const result = await once();
        if (expect !== undefined && result !== expect) throw new Error(`got ${result}, not ${expect}`);
      }
    },
  };
}

/** One row: our figure and mailauth's, interleaved by compareThroughput. */
async function row(
  workload: string,
  ours: Workload,
  peer: Workload,
  { warmup, rounds }: { warmup: number; rounds: number },
): Promise<Row> {
  const { ours: figure, ...peers } = await compareThroughput({ ours, [PEER]: peer }, { warmup, rounds });
  return { workload, unit: 'msg/s', ours: figure, peers };
}

/**
 * DKIM rows against mailauth (npm): verifications and signatures a second of a 10 KB and a 1 MB message,
 * RSA-2048 and Ed25519, relaxed/relaxed, with the same keys and in-memory DNS answers for both.
 */
export async function mailauthSuite(): Promise<Row[]> {
  const keys = makeKeys();
  const ops = operations(keys.txt);
  const small = smallMessage();
  const large = largeMessage();
  const cases = [
    { label: '10 KB message', message: small, key: keys.rsa, name: 'RSA-2048', batch: 100 },
    {
      label: '1 MB message with a base64 attachment',
      message: large,
      key: keys.rsa,
      name: 'RSA-2048',
      batch: 10,
    },
    { label: '10 KB message', message: small, key: keys.ed25519, name: 'Ed25519', batch: 150 },
  ];
  for (const { label, message, key, name } of cases)
    await crossCheck(ops, `${label} (${name})`, message, key);

  const timing = { warmup: 2, rounds: 15 };
  const rows: Row[] = [];
  for (const { label, message, key, name, batch } of cases) {
    // The message as received, with mailauth's signature (both verify either, as checked above).
    const signed = received(await ops.peerSign(message, key), message);
    rows.push(
      await row(
        `DKIM verify, ${label} (${name}, relaxed/relaxed)`,
        repeated(batch, () => ops.ourVerify(signed), 'pass'),
        repeated(batch, () => ops.peerVerify(signed), 'pass'),
        timing,
      ),
    );
  }
  for (const { label, message, key, name, batch } of cases) {
    rows.push(
      await row(
        `DKIM sign, ${label} (${name}, relaxed/relaxed)`,
        repeated(batch, () => ops.ourSign(message, key)),
        repeated(batch, () => ops.peerSign(message, key)),
        timing,
      ),
    );
  }
  return rows;
}
