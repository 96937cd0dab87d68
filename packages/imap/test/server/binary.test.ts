import { concatBytes, utf8 } from '@postwire/core';
import { encodeBase64Body } from '@postwire/mime';
import { createMemoryStore } from '@postwire/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/protocol/command.js';
import { ImapSyntaxError } from '../../src/protocol/errors.js';
import type { FetchItem } from '../../src/protocol/fetch-item.js';
import { type Fragment, ImapReader } from '../../src/protocol/reader.js';
import { serializeResponse } from '../../src/protocol/response.js';
import type { FetchAttribute, FetchContent } from '../../src/protocol/response-fetch.js';
import type { LiteralSource } from '../../src/protocol/writer.js';
import {
  binaryAttribute,
  binaryRequests,
  DecodedParts,
  decodePart,
  hasUnknownEncoding,
  locateBinary,
} from '../../src/server/binary.js';
import { fetchAttributes, needsStructure, setsSeen } from '../../src/server/fetch-attributes.js';
import { type ImapFetchResult, ImapStoreBridge } from '../../src/server/store-bridge.js';

/** Bytes with NULs and every high bit pattern, to survive base64 exactly. */
const BLOB = new Uint8Array([0, 1, 2, 0, 0xff, 0x80, 0x0d, 0x0a, 0x7f, 0]);
const BLOB64 = new TextDecoder().decode(encodeBase64Body(BLOB));

const MIXED =
  'Subject: Parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
  '--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
  'caf=C3=A9 and a soft=\r\n break\r\nline 2\r\n' +
  '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
  `${BLOB64}\r\n` +
  '--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
  'na\u00efve 8bit\r\n' +
  '--b\r\nContent-Type: application/x-thing\r\nContent-Transfer-Encoding: x-rot13\r\n\r\n' +
  'uryyb\r\n' +
  '--b\r\nContent-Type: message/rfc822\r\n\r\n' +
  'Subject: Inner\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n' +
  '--c\r\nContent-Type: text/plain\r\n\r\ninner text\r\n' +
  '--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
  `${new TextDecoder().decode(encodeBase64Body(utf8('unix\nlines\n')))}\r\n` +
  '--c--\r\n' +
  '--b--\r\n';

const SINGLE = `Subject: One\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n${BLOB64}\r\n`;

/** Parses FETCH items as a client sends them (`BINARY[2]<0.4> BINARY.SIZE[2]`). */
function items(text: string): FetchItem[] {
  const command = parseCommand(frame(`t FETCH 1 (${text})`));
  if (command.name !== 'FETCH') throw new Error('not a FETCH');
  return [...command.items];
}

function frame(line: string): Fragment[] {
  const reader = new ImapReader({ side: 'server' });
  reader.push(utf8(`${line}\r\n`));
  for (let event = reader.next(); event; event = reader.next())
    if (event.type === 'message') return [...event.fragments];
  throw new Error('no command');
}

/** A bridge on a memory store whose INBOX holds `messages` (UIDs 1, 2 …) and is selected. */
async function bridgeWith(...messages: string[]): Promise<ImapStoreBridge> {
  const store = createMemoryStore();
  const mail = await store.user('alice');
  const inbox = await mail.open('INBOX');
  for (const message of messages) await inbox.append(utf8(message));
  await inbox.close();
  const bridge = new ImapStoreBridge(mail);
  await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: false });
  return bridge;
}

/** Runs the store side of a FETCH the way the session does: `fetch`, then `binary` when needed. */
async function fetch(
  bridge: ImapStoreBridge,
  uids: readonly number[],
  wanted: readonly FetchItem[],
): Promise<{ result: ImapFetchResult; decoded: DecodedParts; attributes: FetchAttribute[][] }> {
  const result = (await bridge.run({
    op: 'fetch',
    uids,
    structure: wanted.some(needsStructure),
    seen: wanted.some(setsSeen),
  })) as ImapFetchResult;
  const requests = binaryRequests(wanted, result);
  const contents =
    requests.length === 0 ? [] : ((await bridge.run({ op: 'binary', requests })) as Uint8Array[]);
  const decoded = new DecodedParts(requests, contents);
  const none: Iterator<Uint8Array> = [][Symbol.iterator]();
  const attributes = result.messages.map((_, index) => fetchAttributes(wanted, result, index, none, decoded));
  return { result, decoded, attributes };
}

async function bytesOf(content: FetchContent): Promise<Uint8Array> {
  if (content instanceof Uint8Array) return content;
  const chunks: Uint8Array[] = [];
  for await (const chunk of (content as LiteralSource).chunks) chunks.push(chunk);
  return concatBytes(chunks);
}

/** The content of a BINARY attribute, read whole. */
async function content(attribute: FetchAttribute | undefined): Promise<Uint8Array> {
  if (attribute?.item !== 'BINARY[]') throw new Error(`not BINARY: ${attribute?.item}`);
  return bytesOf(attribute.content);
}

/** The FETCH response as the server writes it (held content only). */
function wire(attributes: readonly FetchAttribute[]): string {
  const parts = serializeResponse({ type: 'FETCH', number: 1, attributes });
  return new TextDecoder('latin1').decode(
    concatBytes(parts.flatMap((part) => (part.kind === 'bytes' ? [part.data] : []))),
  );
}

describe('BINARY: locating parts', () => {
  it('needs the structure for a part, and BINARY without PEEK sets \\Seen', () => {
    const [whole, part, peek, size] = items('BINARY[] BINARY[1] BINARY.PEEK[1] BINARY.SIZE[1]');
    expect([whole, part, peek, size].map((item) => needsStructure(item!))).toEqual([false, true, true, true]);
    expect([whole, part, peek, size].map((item) => setsSeen(item!))).toEqual([true, true, false, false]);
  });

  it('refuses HEADER, TEXT and MIME specifiers as BAD syntax', () => {
    for (const spec of ['1.HEADER', 'TEXT', '2.MIME'])
      expect(() => items(`BINARY[${spec}]`)).toThrow(ImapSyntaxError);
  });

  it('finds leaves with their encoding, composites as they are, and nothing for a missing part', async () => {
    const bridge = await bridgeWith(MIXED);
    const { result } = await fetch(bridge, [1], items('BODYSTRUCTURE'));
    const structure = result.structures![0]!;
    const size = result.messages[0]!.size;
    expect(locateBinary([1], size, structure)).toMatchObject({
      kind: 'decode',
      encoding: 'QUOTED-PRINTABLE',
      text: true,
    });
    expect(locateBinary([2], size, structure)).toMatchObject({
      kind: 'decode',
      encoding: 'BASE64',
      text: false,
    });
    expect(locateBinary([4], size, structure)).toEqual({ kind: 'unknown', encoding: 'X-ROT13' });
    expect(locateBinary([5], size, structure)).toMatchObject({ kind: 'raw' });
    expect(locateBinary([5, 2], size, structure)).toMatchObject({
      kind: 'decode',
      encoding: 'BASE64',
      text: true,
    });
    expect(locateBinary([], size, structure)).toEqual({ kind: 'raw', start: 0, end: size });
    expect(locateBinary([9], size, structure)).toEqual({ kind: 'empty' });
    expect(locateBinary([1, 1], size, structure)).toEqual({ kind: 'empty' });
  });
});

describe('BINARY: decoded content', () => {
  it('decodes a base64 part holding NUL, and sends it as literal8', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(bridge, [1], items('BINARY.PEEK[2] BINARY.SIZE[2]'));
    const [binary, size] = attributes[0]!;
    expect(await content(binary)).toEqual(BLOB);
    expect(size).toEqual({ item: 'BINARY.SIZE', part: [2], size: BLOB.length });
    expect(wire([binary!])).toBe(
      `* 1 FETCH (BINARY[2] ~{${BLOB.length}}\r\n${String.fromCharCode(...BLOB)})\r\n`,
    );
  });

  it('decodes quoted-printable (soft breaks gone) and sends text without NUL as a plain literal', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(bridge, [1], items('BINARY.PEEK[1] BINARY.SIZE[1]'));
    const expected = utf8('caf\u00e9 and a soft break\r\nline 2');
    expect(await content(attributes[0]![0])).toEqual(expected);
    expect(attributes[0]![1]).toMatchObject({ size: expected.length });
    expect(wire([attributes[0]![0]!])).toMatch(
      new RegExp(`^\\* 1 FETCH \\(BINARY\\[1\\] \\{${expected.length}\\}\r\n`),
    );
  });

  it('sends an 8bit part as it is', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(bridge, [1], items('BINARY.PEEK[3] BINARY.SIZE[3]'));
    const expected = utf8('na\u00efve 8bit');
    expect(await content(attributes[0]![0])).toEqual(expected);
    expect(attributes[0]![1]).toMatchObject({ size: expected.length });
  });

  it('cuts partial ranges from the decoded content, without an origin in the response', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(
      bridge,
      [1],
      items('BINARY.PEEK[2]<1.3> BINARY.PEEK[2]<8.100> BINARY.PEEK[2]<50.1> BINARY.SIZE[2]'),
    );
    const [first, tail, past, size] = attributes[0]!;
    expect(await content(first)).toEqual(BLOB.subarray(1, 4));
    expect(await content(tail)).toEqual(BLOB.subarray(8));
    expect(await content(past)).toEqual(new Uint8Array(0));
    expect(size).toMatchObject({ size: BLOB.length });
    expect(wire([first!])).toBe('* 1 FETCH (BINARY[2] ~{3}\r\n\u0001\u0002\u0000)\r\n');
  });

  it('decodes a part of an embedded message, and makes its text line endings CRLF', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(
      bridge,
      [1],
      items('BINARY.PEEK[5.2] BINARY.SIZE[5.2] BINARY.PEEK[5.1]'),
    );
    const [encoded, size, plain] = attributes[0]!;
    expect(new TextDecoder().decode(await content(encoded))).toBe('unix\r\nlines\r\n');
    expect(size).toMatchObject({ part: [5, 2], size: 13 });
    expect(new TextDecoder().decode(await content(plain))).toBe('inner text');
  });

  it('sends a composite part or the whole message as it is, and a missing part as empty', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(
      bridge,
      [1],
      items('BINARY.PEEK[5] BINARY.SIZE[5] BINARY.PEEK[] BINARY.PEEK[]<0.7> BINARY.PEEK[7] BINARY.SIZE[7]'),
    );
    const [embedded, embeddedSize, whole, start, missing, missingSize] = attributes[0]!;
    const inner = new TextDecoder().decode(await content(embedded));
    expect(inner).toMatch(/^Subject: Inner\r\n/);
    expect(inner).toMatch(/\r\n--c--$/);
    expect(embeddedSize).toMatchObject({ size: utf8(inner).length });
    expect(new TextDecoder().decode(await content(whole))).toBe(MIXED);
    expect(new TextDecoder().decode(await content(start))).toBe('Subject');
    expect(await content(missing)).toEqual(new Uint8Array(0));
    expect(missingSize).toEqual({ item: 'BINARY.SIZE', part: [7], size: 0 });
  });

  it('decodes the body of a single-part message as part 1', async () => {
    const bridge = await bridgeWith(SINGLE);
    const { attributes } = await fetch(bridge, [1], items('BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2]'));
    expect(await content(attributes[0]![0])).toEqual(BLOB);
    expect(attributes[0]!.slice(1)).toEqual([
      { item: 'BINARY.SIZE', part: [1], size: BLOB.length },
      { item: 'BINARY.SIZE', part: [2], size: 0 },
    ]);
  });

  it('leaves out the items of a part whose encoding is unknown, for NO [UNKNOWN-CTE]', async () => {
    const bridge = await bridgeWith(MIXED, SINGLE);
    const wanted = items('UID BINARY.PEEK[4] BINARY.SIZE[4]');
    const { result, attributes } = await fetch(bridge, [1, 2], wanted);
    expect(hasUnknownEncoding(wanted, result)).toBe(true);
    expect(binaryRequests(wanted, result)).toEqual([]);
    expect(attributes[0]).toEqual([{ item: 'UID', uid: 1 }]);
    expect(attributes[1]).toEqual([
      { item: 'UID', uid: 2 },
      { item: 'BINARY[]', part: [4], content: new Uint8Array(0) },
      { item: 'BINARY.SIZE', part: [4], size: 0 },
    ]);
    expect(hasUnknownEncoding(items('BINARY.PEEK[2]'), result)).toBe(false);
  });

  it('decodes each part of each message once, however many items name it', async () => {
    const bridge = await bridgeWith(MIXED, SINGLE);
    const wanted = items('BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[2]<0.1> BINARY.PEEK[1] BINARY.PEEK[5]');
    const { result } = await fetch(bridge, [1, 2], wanted);
    const requests = binaryRequests(wanted, result);
    expect(requests.map(({ uid, encoding, text }) => ({ uid, encoding, text }))).toEqual([
      { uid: 1, encoding: 'BASE64', text: false },
      { uid: 1, encoding: 'QUOTED-PRINTABLE', text: true },
      { uid: 2, encoding: 'BASE64', text: false },
    ]);
  });

  it('BINARY without PEEK sets \\Seen and reports FLAGS', async () => {
    const bridge = await bridgeWith(MIXED);
    const { attributes } = await fetch(bridge, [1], items('BINARY.SIZE[2] BINARY[2]'));
    expect(attributes[0]!.at(-1)).toEqual({ item: 'FLAGS', flags: ['\\Seen'] });
  });

  it('fails loudly when a leaf part was not decoded', async () => {
    const bridge = await bridgeWith(MIXED);
    const item = { item: 'BINARY[]', part: [2], peek: true } as const;
    const { result } = await fetch(bridge, [1], [item]);
    expect(() => binaryAttribute(item, result, 0, new DecodedParts())).toThrow(/not decoded/);
  });
});

describe('BINARY: decoding', () => {
  it('decodes any bytes put in a base64 MIME part back to themselves', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    const bridge = new ImapStoreBridge(mail);
    await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: false });
    const inbox = await mail.open('INBOX');
    const wanted = items('BINARY.PEEK[2] BINARY.SIZE[2]');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        const body = new TextDecoder().decode(encodeBase64Body(bytes));
        const message =
          'Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nfirst\r\n' +
          `--z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n--z--\r\n`;
        const { uid } = await inbox.append(utf8(message));
        const { attributes } = await fetch(bridge, [uid], wanted);
        expect(await content(attributes[0]![0])).toEqual(bytes);
        expect(attributes[0]![1]).toMatchObject({ size: bytes.length });
      }),
      { numRuns: 60 },
    );
    await inbox.close();
  });

  it('gives the same bytes however the encoded body is chunked', async () => {
    const encoded = encodeBase64Body(BLOB);
    async function* chunks(size: number): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < encoded.length; i += size) yield encoded.subarray(i, i + size);
    }
    for (const size of [1, 3, 7, encoded.length])
      expect(await decodePart(chunks(size), { encoding: 'base64', text: false })).toEqual(BLOB);
  });
});
