import { utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ImapCommand, parseCommand, serializeCommand } from '../../src/protocol/command.js';
import { ImapSyntaxError } from '../../src/protocol/errors.js';
import { type Fragment, ImapReader, type MessageEvent } from '../../src/protocol/reader.js';
import type { SearchKey } from '../../src/protocol/search-key.js';
import { SequenceSet } from '../../src/protocol/sequence-set.js';
import { ImapWriter, type OutputPart } from '../../src/protocol/writer.js';

function wire(parts: OutputPart[]): Uint8Array {
  return Buffer.concat(parts.flatMap((part) => (part.kind === 'bytes' ? [part.data] : [])));
}

function frame(bytes: Uint8Array, chunk = bytes.length || 1): Fragment[] {
  const reader = new ImapReader({ side: 'server', limits: { maxLineLength: 200_000 } });
  const out: Fragment[][] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    reader.push(bytes.slice(i, i + chunk));
    for (let event = reader.next(); event; event = reader.next()) {
      if (event.type === 'error') throw event.error;
      if (event.type === 'message') out.push([...event.fragments]);
    }
  }
  expect(out).toHaveLength(1);
  return out[0]!;
}

const parse = (line: string, utf8Accept = false): ImapCommand =>
  parseCommand(frame(utf8(`${line}\r\n`)), { utf8Accept });

function refused(line: string, maxDepth?: number): ImapSyntaxError {
  try {
    parseCommand(frame(utf8(`${line}\r\n`)), { ...(maxDepth && { maxDepth }) });
  } catch (error) {
    expect(error).toBeInstanceOf(ImapSyntaxError);
    return error as ImapSyntaxError;
  }
  throw new Error(`${line} was accepted`);
}

const roundTrip = (command: ImapCommand): ImapCommand =>
  parseCommand(
    frame(wire(serializeCommand(command, new ImapWriter({ side: 'client', nonSyncLiterals: 'plus' })))),
  );

const set = (text: string) => SequenceSet.parse(text);

const commands: ImapCommand[] = [
  { tag: 'a1', name: 'CAPABILITY' },
  { tag: 'a2', name: 'LOGIN', username: 'alice', password: 'p "w"\\ é' },
  { tag: 'a3', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' },
  { tag: 'a3', name: 'AUTHENTICATE', mechanism: 'XOAUTH2', initialResponse: '' },
  { tag: 'a4', name: 'ENABLE', capabilities: ['QRESYNC', 'UTF8=ACCEPT'] },
  {
    tag: 'a5',
    name: 'ID',
    parameters: [
      ['name', 'x'],
      ['version', null],
    ],
  },
  { tag: 'a5', name: 'ID', parameters: null },
  {
    tag: 'a6',
    name: 'SELECT',
    mailbox: 'Entwürfe',
    condstore: true,
    qresync: {
      uidValidity: 67890007,
      modSeq: 20050715194045,
      knownUids: set('41,43:211'),
      sequenceMatch: { sequences: set('1:10'), uids: set('41:50') },
    },
  },
  { tag: 'a7', name: 'EXAMINE', mailbox: 'INBOX' },
  { tag: 'a8', name: 'CREATE', mailbox: 'Archive', specialUse: ['\\Archive'] },
  { tag: 'a9', name: 'RENAME', mailbox: 'a b', newName: 'c&d' },
  { tag: 'b1', name: 'DELETE', mailbox: 'NIL' },
  {
    tag: 'b2',
    name: 'LIST',
    reference: '',
    patterns: ['*', 'Other/%'],
    selection: ['SUBSCRIBED'],
    return: {
      children: true,
      specialUse: true,
      status: ['MESSAGES', 'SIZE', 'HIGHESTMODSEQ', 'APPENDLIMIT'],
    },
  },
  { tag: 'b3', name: 'LSUB', reference: '', pattern: '*' },
  { tag: 'b4', name: 'STATUS', mailbox: 'INBOX', items: ['UIDNEXT', 'DELETED'] },
  {
    tag: 'b5',
    name: 'APPEND',
    mailbox: 'INBOX',
    messages: [
      { flags: ['\\Seen'], date: '17-Jul-1996 02:44:25 -0700', content: utf8('Subject: x\r\n\r\nhi\r\n') },
      { content: utf8('second'), binary: true },
    ],
  },
  { tag: 'b6', name: 'EXPUNGE', uids: set('1:5') },
  {
    tag: 'b7',
    name: 'SEARCH',
    uid: true,
    charset: 'UTF-8',
    return: ['MIN', 'MAX', 'COUNT', 'SAVE'],
    criteria: [
      { key: 'OR', left: { key: 'FROM', value: 'bob' }, right: { key: 'NOT', operand: { key: 'SEEN' } } },
      {
        key: 'AND',
        keys: [
          { key: 'SINCE', date: '1994-02-01' },
          { key: 'LARGER', size: 1000 },
        ],
      },
      { key: 'HEADER', field: 'X-Tag', value: 'ünïcode' },
      { key: 'MODSEQ', modSeq: 5, entry: { name: '/flags/\\draft', type: 'all' } },
      { key: 'UID', set: set('1:*') },
      { key: 'SEQUENCE', set: SequenceSet.saved },
      { key: 'KEYWORD', flag: '$Forwarded' },
      { key: 'YOUNGER', seconds: 3600 },
      { key: 'EMAILID', id: 'M6d99ac3275bb4e' },
    ],
  },
  {
    tag: 'b8',
    name: 'SORT',
    uid: false,
    criteria: ['REVERSE DATE', 'SUBJECT'],
    charset: 'UTF-8',
    search: [{ key: 'ALL' }],
  },
  {
    tag: 'b9',
    name: 'THREAD',
    uid: true,
    algorithm: 'REFERENCES',
    charset: 'US-ASCII',
    search: [{ key: 'ALL' }],
  },
  {
    tag: 'c1',
    name: 'FETCH',
    uid: true,
    sequence: set('1:*'),
    items: [
      { item: 'FLAGS' },
      {
        item: 'BODY[]',
        section: { part: [1, 2], text: 'HEADER.FIELDS', fields: ['From', 'To'] },
        peek: true,
        partial: { offset: 0, count: 100 },
      },
      { item: 'BINARY[]', part: [1], peek: false },
      { item: 'BINARY.SIZE', part: [2] },
      { item: 'MODSEQ' },
      { item: 'EMAILID' },
    ],
    changedSince: 12345,
    vanished: true,
  },
  {
    tag: 'c2',
    name: 'STORE',
    uid: false,
    sequence: set('2:4'),
    operation: 'add',
    silent: true,
    flags: ['\\Deleted'],
    unchangedSince: 7,
  },
  { tag: 'c3', name: 'MOVE', uid: true, sequence: set('5'), mailbox: 'Trash' },
  { tag: 'c4', name: 'COPY', uid: false, sequence: set('5,7'), mailbox: 'Trash' },
  { tag: 'c5', name: 'COMPRESS', mechanism: 'DEFLATE' },
  { tag: 'c6', name: 'GETQUOTA', root: '' },
  { tag: 'c7', name: 'GETQUOTAROOT', mailbox: 'INBOX' },
  { tag: 'c8', name: 'SETQUOTA', root: '', limits: [{ resource: 'STORAGE', limit: 512 }] },
  { tag: 'c9', name: 'IDLE' },
];

describe('commands', () => {
  it('serialize → parse is the identity for every command', () => {
    for (const command of commands) {
      const expected =
        command.name === 'APPEND'
          ? {
              ...command,
              messages: command.messages.map((message) => ({
                ...message,
                content: {
                  kind: 'streamed',
                  size: (message.content as Uint8Array).length,
                  binary: message.binary ?? false,
                },
              })),
            }
          : command;
      expect(roundTrip(command), command.tag).toEqual(expected);
    }
  });

  it('reads what real clients write', () => {
    expect(parse('A1 uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)])')).toMatchObject({
      name: 'FETCH',
      uid: true,
      items: [
        { item: 'FLAGS' },
        { item: 'BODY[]', peek: true, section: { text: 'HEADER.FIELDS', fields: ['From', 'Subject'] } },
      ],
    });
    expect(parse('A2 FETCH 1 FULL')).toMatchObject({
      items: [{ item: 'FLAGS' }, {}, {}, { item: 'ENVELOPE' }, { item: 'BODY' }],
    });
    expect(parse('A2 FETCH 1 FAST').name).toBe('FETCH');
    expect(parse('A2 FETCH 1 ALL')).toMatchObject({ items: [{}, {}, {}, { item: 'ENVELOPE' }] });
    expect(parse('A3 STORE 1 -FLAGS \\Seen \\Flagged')).toMatchObject({
      operation: 'remove',
      flags: ['\\Seen', '\\Flagged'],
    });
    expect(parse('A3 STORE 1 FLAGS ()')).toMatchObject({ operation: 'set', silent: false, flags: [] });
    expect(parse('A4 SELECT [Gmail]/Drafts')).toMatchObject({ mailbox: '[Gmail]/Drafts' });
    expect(parse('A5 SELECT inbox')).toMatchObject({ mailbox: 'INBOX' });
    expect(parse('A6 SEARCH 1:5 SENTON "5-Mar-2020" TEXT {3+}\r\nabc UNSEEN')).toMatchObject({
      criteria: [
        { key: 'SEQUENCE' },
        { key: 'SENTON', date: '2020-03-05' },
        { key: 'TEXT', value: 'abc' },
        { key: 'UNSEEN' },
      ],
    });
    expect(parse('A7 AUTHENTICATE PLAIN')).toEqual({ tag: 'A7', name: 'AUTHENTICATE', mechanism: 'PLAIN' });
    expect(parse('A8 LIST "" %')).toEqual({ tag: 'A8', name: 'LIST', reference: '', patterns: ['%'] });
    expect(parse('A9 UNAUTHENTICATE')).toEqual({ tag: 'A9', name: 'UNAUTHENTICATE' });
    expect(parse('B1 EXPUNGE')).toEqual({ tag: 'B1', name: 'EXPUNGE' });
  });

  it('streams APPEND content and reports its size', () => {
    const reader = new ImapReader({ side: 'server' });
    reader.push(utf8('t APPEND INBOX {3+}\r\nabc\r\n'));
    const events = [reader.next(), reader.next(), reader.next()];
    const message = events[2];
    expect(message?.type).toBe('message');
    const command = parseCommand((message as MessageEvent).fragments);
    expect(command).toMatchObject({ messages: [{ content: { kind: 'streamed', size: 3 } }] });
  });

  it('refuses bad input with the tag and a text for BAD', () => {
    expect(refused('a1 FROB')).toMatchObject({ tag: 'a1', text: 'Unknown command FROB' });
    expect(refused('a2 LOGIN alice').tag).toBe('a2');
    expect(refused('a3 NOOP extra').text).toMatch(/extra/);
    expect(refused('a4 UID NOOP').text).toMatch(/not a command/);
    expect(refused('a5 FETCH 1 (FLAGS FOO)').text).toMatch(/Unknown FETCH item/);
    expect(refused('a5 FETCH 1 BODY[BOGUS]').text).toMatch(/Invalid section/);
    expect(refused('a5 FETCH 1 BINARY[0]').text).toMatch(/part/);
    expect(refused('a5 FETCH 1 FLAGS (VANISHED)').text).toMatch(/modifier/);
    expect(refused('a5 UID FETCH 1 FLAGS (VANISHED)').text).toMatch(/CHANGEDSINCE/);
    expect(refused('a6 SEARCH FOO').text).toMatch(/Unknown search key/);
    expect(refused('a6 SEARCH BEFORE 31-Foo-2020').text).toMatch(/date/);
    expect(refused('a7 STORE 1 FLAG (\\Seen)').text).toMatch(/FLAGS/);
    expect(refused('a8 SELECT x (FOO)').text).toMatch(/SELECT parameter/);
    expect(refused('a9 STATUS x (BAR)').text).toMatch(/STATUS item/);
    expect(refused('b1 SORT (BOGUS) UTF-8 ALL').text).toMatch(/sort/);
    expect(refused('b2 ID ("a")').text).toMatch(/ID/);
    expect(refused('b3 APPEND INBOX "bad date" {1+}\r\nx').text).toMatch(/date-time/);
    expect(refused('b4 AUTHENTICATE PLAIN !!').text).toMatch(/initial response/);
    expect(refused('b5 LIST "" * FOO ()').text).toMatch(/RETURN/);
    expect(refused('b6 APPEND INBOX').text).toMatch(/message/);
    expect(refused('"x" NOOP').tag).toBeUndefined();
  });

  it('case 16: caps NOT and parenthesis nesting in SEARCH', () => {
    expect(refused(`a SEARCH ${'NOT '.repeat(150)}ALL`).text).toBe('Too deeply nested');
    expect(refused(`a SEARCH ${'('.repeat(150)}ALL${')'.repeat(150)}`).text).toBe('Too deeply nested');
    expect(refused(`a NOOP ${'('.repeat(4000)}${')'.repeat(4000)}`).tag).toBe('a');
    expect(parse(`a SEARCH ${'NOT '.repeat(50)}ALL`).name).toBe('SEARCH');
  });

  it('case 17: refuses sequence number 0 and numbers over 2³²−1, and keeps repeated ranges merged', () => {
    expect(refused('a FETCH 0 FLAGS').text).toBe('Invalid sequence set');
    expect(refused('a FETCH 4294967296 FLAGS').text).toBe('Invalid sequence set');
    const command = parse(`a FETCH ${Array(10_000).fill('1:*').join(',')} FLAGS`);
    expect(command).toMatchObject({ sequence: { ranges: [], starFrom: 1 } });
    expect(parse('a UID FETCH 1:4294967295 UID')).toMatchObject({
      sequence: { ranges: [{ start: 1, end: 4294967295 }] },
    });
  });

  it('case 22: refuses malformed modified UTF-7 mailbox names, and passes UTF-8 under UTF8=ACCEPT', () => {
    for (const name of ['&', '&Jjo', '&Jjo!', '&AGE-', '&U,BTFw-&ZeVnLIqe-']) {
      expect(refused(`a SELECT "${name}"`).text, name).toMatch(/modified UTF-7/);
    }
    expect(parse('a SELECT &-')).toMatchObject({ mailbox: '&' });
    expect(parse('a SELECT "Café"', true)).toMatchObject({ mailbox: 'Café' });
    const parts = serializeCommand(
      { tag: 't', name: 'SELECT', mailbox: 'Café' },
      new ImapWriter({ side: 'client', utf8: true }),
      {
        utf8Accept: true,
      },
    );
    expect(new TextDecoder().decode(wire(parts))).toBe('t SELECT "Café"\r\n');
  });

  it('refuses values that cannot be sent', () => {
    const bad: ImapCommand[] = [
      { tag: 'a b', name: 'NOOP' },
      { tag: 't', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'not base64!' },
      { tag: 't', name: 'APPEND', mailbox: 'x', messages: [] },
      { tag: 't', name: 'APPEND', mailbox: 'x', messages: [{ date: 'yesterday', content: utf8('x') }] },
      {
        tag: 't',
        name: 'APPEND',
        mailbox: 'x',
        messages: [{ content: { kind: 'streamed', size: 1, binary: false } }],
      },
      { tag: 't', name: 'SORT', uid: false, criteria: ['BOGUS'], charset: 'UTF-8', search: [{ key: 'ALL' }] },
      { tag: 't', name: 'SEARCH', uid: false, criteria: [] },
      { tag: 't', name: 'SEARCH', uid: false, criteria: [{ key: 'ON', date: '2020-13-01' }] },
      { tag: 't', name: 'FETCH', uid: false, sequence: set('1'), items: [] },
      {
        tag: 't',
        name: 'STORE',
        uid: false,
        sequence: set('1'),
        operation: 'set',
        silent: false,
        flags: ['a b'],
      },
      {
        tag: 't',
        name: 'FETCH',
        uid: false,
        sequence: set('1'),
        items: [{ item: 'FLAGS' }],
        changedSince: -1,
      },
      { tag: 't', name: 'SELECT', mailbox: 'x', qresync: { uidValidity: 0, modSeq: 1 } },
      { tag: 't', name: 'LIST', reference: '', patterns: ['*'], return: { status: ['BOGUS' as 'SIZE'] } },
      {
        tag: 't',
        name: 'FETCH',
        uid: false,
        sequence: set('1'),
        items: [
          { item: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['a b'] }, peek: false },
        ],
      },
      {
        tag: 't',
        name: 'FETCH',
        uid: false,
        sequence: set('1'),
        items: [{ item: 'BINARY.SIZE', part: [0] }],
      },
    ];
    for (const command of bad) expect(() => serializeCommand(command), JSON.stringify(command)).toThrow();
  });

  it('streams an APPEND source and waits for + before a synchronising literal', () => {
    const parts = serializeCommand({
      tag: 't',
      name: 'APPEND',
      mailbox: 'INBOX',
      messages: [{ content: { size: 2, chunks: [utf8('hi')] } }],
    });
    expect(parts.map((part) => part.kind)).toEqual(['bytes', 'await-continuation', 'stream', 'bytes']);
  });

  it('round-trips generated LOGIN and SEARCH commands in any chunking', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0'));
    const leaf: fc.Arbitrary<SearchKey> = fc.oneof(
      fc.constantFrom<SearchKey>({ key: 'ALL' }, { key: 'SEEN' }, { key: 'UNDRAFT' }),
      text.map((value) => ({ key: 'SUBJECT', value }) as SearchKey),
      fc.integer({ min: 0, max: 2 ** 40 }).map((size) => ({ key: 'SMALLER', size }) as SearchKey),
    );
    const key = fc.letrec<{ key: SearchKey }>((tie) => ({
      key: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        tie('key').map((operand) => ({ key: 'NOT', operand }) as SearchKey),
        fc.tuple(tie('key'), tie('key')).map(([left, right]) => ({ key: 'OR', left, right }) as SearchKey),
        fc
          .array(tie('key'), { minLength: 1, maxLength: 3 })
          .map((keys) => ({ key: 'AND', keys }) as SearchKey),
      ),
    })).key;
    fc.assert(
      fc.property(
        text,
        text,
        fc.array(key, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 7 }),
        (user, pass, criteria, chunk) => {
          const login: ImapCommand = { tag: 'L', name: 'LOGIN', username: user, password: pass };
          const search: ImapCommand = { tag: 'S', name: 'SEARCH', uid: false, criteria };
          for (const command of [login, search]) {
            const bytes = wire(
              serializeCommand(command, new ImapWriter({ side: 'client', nonSyncLiterals: 'plus' })),
            );
            expect(parseCommand(frame(bytes, chunk))).toEqual(command);
          }
        },
      ),
    );
  });
});
