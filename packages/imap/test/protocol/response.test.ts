import type { BodyStructure, Envelope } from '@postwire/mime';
import { describe, expect, it } from 'vitest';
import { ImapSyntaxError } from '../../src/protocol/errors.js';
import { ImapReader, type StreamedFragment } from '../../src/protocol/reader.js';
import { type ImapResponse, parseResponse, serializeResponse } from '../../src/protocol/response.js';
import { SequenceSet } from '../../src/protocol/sequence-set.js';
import { ImapWriter } from '../../src/protocol/writer.js';
import { frameAll, parseLine, parseLines, wire } from './response-helpers.js';

const text = (response: ImapResponse): string =>
  Buffer.from(wire(serializeResponse(response))).toString('utf8');

function refused(line: string, maxDepth?: number): ImapSyntaxError {
  try {
    parseLine(line, { lenient: false, ...(maxDepth && { maxDepth }) });
  } catch (error) {
    expect(error).toBeInstanceOf(ImapSyntaxError);
    return error as ImapSyntaxError;
  }
  throw new Error(`${line} was accepted`);
}

describe('responses: Dovecot transcript', () => {
  it('reads greeting, capabilities, SELECT and a tagged OK with codes', () => {
    const responses = parseLines([
      '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.',
      'a1 OK [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC] Logged in',
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.',
      '* 172 EXISTS',
      '* 1 RECENT',
      '* OK [UNSEEN 12] First unseen.',
      '* OK [UIDVALIDITY 3857529045] UIDs valid',
      '* OK [UIDNEXT 4392] Predicted next UID',
      '* OK [HIGHESTMODSEQ 715194045007] Highest',
      'a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).',
    ]);
    expect(responses[0]).toEqual({
      type: 'status',
      status: 'OK',
      code: {
        code: 'CAPABILITY',
        capabilities: [
          'IMAP4rev1',
          'SASL-IR',
          'LOGIN-REFERRALS',
          'ID',
          'ENABLE',
          'IDLE',
          'LITERAL+',
          'STARTTLS',
          'AUTH=PLAIN',
        ],
      },
      text: 'Dovecot ready.',
    });
    expect(responses[1]).toMatchObject({ type: 'tagged', tag: 'a1', status: 'OK', text: 'Logged in' });
    expect(responses[2]).toEqual({
      type: 'FLAGS',
      flags: ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '$Forwarded'],
    });
    expect(responses[3]).toMatchObject({
      code: { code: 'PERMANENTFLAGS', flags: expect.arrayContaining(['\\*']) },
    });
    expect(responses[4]).toEqual({ type: 'EXISTS', number: 172 });
    expect(responses[5]).toEqual({ type: 'RECENT', number: 1 });
    expect(responses[6]).toMatchObject({ code: { code: 'UNSEEN', value: 12 }, text: 'First unseen.' });
    expect(responses[7]).toMatchObject({ code: { code: 'UIDVALIDITY', value: 3857529045 } });
    expect(responses[8]).toMatchObject({ code: { code: 'UIDNEXT', value: 4392 } });
    expect(responses[9]).toMatchObject({ code: { code: 'HIGHESTMODSEQ', modSeq: 715194045007 } });
    expect(responses[10]).toEqual({
      type: 'tagged',
      tag: 'a2',
      status: 'OK',
      code: { code: 'READ-WRITE' },
      text: 'Select completed (0.001 + 0.000 secs).',
    });
  });

  it('reads LIST with extended items, STATUS, LSUB, NAMESPACE, ID, QUOTA and ENABLED', () => {
    const responses = parseLines([
      '* LIST (\\HasNoChildren \\Sent) "/" Sent',
      '* LIST (\\HasChildren) "." "Archive &AOk-t&AOk-" ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST () "/" "New" ("OLDNAME" ("Old"))',
      '* LIST (\\Noselect) NIL ""',
      '* LSUB () "/" INBOX',
      '* STATUS "Archive" (MESSAGES 231 UIDNEXT 44292 UNSEEN 0 SIZE 1048576 APPENDLIMIT NIL MAILBOXID (F2212ea87-6097))',
      '* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/" "X-PARAM" ("FLAG1" "FLAG2")))',
      '* ID ("name" "Dovecot" "version" NIL)',
      '* QUOTAROOT INBOX "" "user"',
      '* QUOTA "" (STORAGE 10 512 MESSAGE 3 10000)',
      '* ENABLED CONDSTORE QRESYNC',
      '* ENABLED',
    ]);
    expect(responses[0]).toEqual({
      type: 'LIST',
      flags: ['\\HasNoChildren', '\\Sent'],
      delimiter: '/',
      mailbox: 'Sent',
    });
    expect(responses[1]).toEqual({
      type: 'LIST',
      flags: ['\\HasChildren'],
      delimiter: '.',
      mailbox: 'Archive été',
      childInfo: ['SUBSCRIBED'],
    });
    expect(responses[2]).toMatchObject({ mailbox: 'New', oldName: 'Old' });
    expect(responses[3]).toMatchObject({ delimiter: null, mailbox: '' });
    expect(responses[4]).toMatchObject({ type: 'LSUB', mailbox: 'INBOX' });
    expect(responses[5]).toEqual({
      type: 'STATUS',
      mailbox: 'Archive',
      values: {
        MESSAGES: 231,
        UIDNEXT: 44292,
        UNSEEN: 0,
        SIZE: 1048576,
        APPENDLIMIT: null,
        MAILBOXID: 'F2212ea87-6097',
      },
    });
    expect(responses[6]).toEqual({
      type: 'NAMESPACE',
      personal: [{ prefix: '', delimiter: '/' }],
      other: [{ prefix: '~', delimiter: '/' }],
      shared: [{ prefix: '#shared/', delimiter: '/', extensions: [['X-PARAM', ['FLAG1', 'FLAG2']]] }],
    });
    expect(responses[7]).toEqual({
      type: 'ID',
      parameters: [
        ['name', 'Dovecot'],
        ['version', null],
      ],
    });
    expect(responses[8]).toEqual({ type: 'QUOTAROOT', mailbox: 'INBOX', roots: ['', 'user'] });
    expect(responses[9]).toEqual({
      type: 'QUOTA',
      root: '',
      resources: [
        { name: 'STORAGE', usage: 10, limit: 512 },
        { name: 'MESSAGE', usage: 3, limit: 10000 },
      ],
    });
    expect(responses[10]).toEqual({ type: 'ENABLED', capabilities: ['CONDSTORE', 'QRESYNC'] });
    expect(responses[11]).toEqual({ type: 'ENABLED', capabilities: [] });
  });

  it('reads SEARCH, ESEARCH, SORT, THREAD, VANISHED and the UIDPLUS codes', () => {
    const responses = parseLines([
      '* SEARCH 2 84 882 (MODSEQ 917162500)',
      '* SEARCH',
      '* ESEARCH (TAG "a3") UID MIN 4 MAX 3800 COUNT 4 ALL 4,10:11,3800 MODSEQ 12',
      '* SORT 2 3 6',
      '* THREAD (2)(3 6 (4 23)(44 7 96))',
      '* VANISHED (EARLIER) 41,43:116,118',
      '* VANISHED 405',
      'a4 OK [APPENDUID 38505 3955] APPEND completed',
      'a5 OK [COPYUID 38505 304,319:320 3956:3958] Done',
      'a6 OK [MODIFIED 7,9] Conditional STORE failed',
      'a7 NO [TRYCREATE] Mailbox does not exist',
      'a8 OK [NOMODSEQ] No permanent modsequences',
      '* OK [CLOSED] Previous mailbox closed.',
      'a9 NO [UNKNOWN-CTE] Unknown encoding',
      'b1 NO [ALREADYEXISTS] Mailbox exists',
      'b2 NO [BADCHARSET (UTF-8 "US-ASCII")] charset',
      'b3 NO [BADCHARSET] charset',
      'b4 OK [MAILBOXID (F2212ea87)] Created',
      'b5 NO [X-DOVECOT-CODE some text] Unknown code',
      'b6 NO [XUNKNOWN] Unknown bare code',
    ]);
    expect(responses[0]).toEqual({ type: 'SEARCH', numbers: [2, 84, 882], modSeq: 917162500 });
    expect(responses[1]).toEqual({ type: 'SEARCH', numbers: [] });
    expect(responses[2]).toEqual({
      type: 'ESEARCH',
      tag: 'a3',
      uid: true,
      min: 4,
      max: 3800,
      count: 4,
      all: SequenceSet.parse('4,10:11,3800'),
      modSeq: 12,
    });
    expect(responses[3]).toEqual({ type: 'SORT', numbers: [2, 3, 6] });
    expect(responses[4]).toEqual({
      type: 'THREAD',
      threads: [
        { chain: [2], children: [] },
        {
          chain: [3, 6],
          children: [
            { chain: [4, 23], children: [] },
            { chain: [44, 7, 96], children: [] },
          ],
        },
      ],
    });
    expect(responses[5]).toEqual({
      type: 'VANISHED',
      earlier: true,
      uids: SequenceSet.parse('41,43:116,118'),
    });
    expect(responses[6]).toEqual({ type: 'VANISHED', earlier: false, uids: SequenceSet.parse('405') });
    expect(responses[7]).toMatchObject({
      code: { code: 'APPENDUID', uidValidity: 38505, uids: SequenceSet.parse('3955') },
    });
    expect(responses[8]).toMatchObject({
      code: {
        code: 'COPYUID',
        uidValidity: 38505,
        source: SequenceSet.parse('304,319:320'),
        destination: SequenceSet.parse('3956:3958'),
      },
    });
    expect(responses[9]).toMatchObject({ code: { code: 'MODIFIED', set: SequenceSet.parse('7,9') } });
    expect(responses[10]).toMatchObject({ status: 'NO', code: { code: 'TRYCREATE' } });
    expect(responses[11]).toMatchObject({ code: { code: 'NOMODSEQ' } });
    expect(responses[12]).toMatchObject({ type: 'status', code: { code: 'CLOSED' } });
    expect(responses[13]).toMatchObject({ code: { code: 'UNKNOWN-CTE' } });
    expect(responses[14]).toMatchObject({ code: { code: 'ALREADYEXISTS' } });
    expect(responses[15]).toMatchObject({ code: { code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] } });
    expect(responses[16]).toMatchObject({ code: { code: 'BADCHARSET', charsets: [] } });
    expect(responses[17]).toMatchObject({ code: { code: 'MAILBOXID', id: 'F2212ea87' } });
    expect(responses[18]).toMatchObject({
      code: { code: 'UNKNOWN', atom: 'X-DOVECOT-CODE', text: 'some text' },
      text: 'Unknown code',
    });
    expect(responses[19]).toMatchObject({ code: { code: 'UNKNOWN', atom: 'XUNKNOWN' } });
  });

  it('reads envelope strings with escapes, NIL in any case, and loose spacing when lenient', () => {
    const line =
      '* 3 FETCH (MODSEQ (9007199254740991) ENVELOPE (nil "say \\"hi\\" \\\\ bye" (( "Ann"  Nil "ann" "example.com" )) ' +
      'NIL NIL NIL NIL NIL NIL "<a@b>"))';
    const response = parseLine(line, { lenient: true });
    if (response.type !== 'FETCH') throw new Error('not a FETCH');
    const [modseq, item] = response.attributes;
    expect(modseq).toEqual({ item: 'MODSEQ', modSeq: 9007199254740991 });
    const { envelope } = item as { envelope: Envelope };
    expect(envelope).toMatchObject({ date: null, subject: 'say "hi" \\ bye', messageId: '<a@b>' });
    expect(envelope.from).toEqual([{ name: 'Ann', adl: null, mailbox: 'ann', host: 'example.com' }]);
    expect(() => parseLine(line, { lenient: false })).toThrow(ImapSyntaxError);
  });

  it('reads a FETCH with ENVELOPE, BODYSTRUCTURE and a streamed body', () => {
    const body = 'Subject: hi\r\n\r\nHello\r\n';
    const bytes = Buffer.from(
      '* 12 FETCH (UID 4827313 FLAGS (\\Seen $Label1) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ' +
        'MODSEQ (12121231000) EMAILID (M6d99ac3275bb4e) THREADID NIL ' +
        'ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
        '((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
        '"<B27397-0100000@cac.washington.edu>") ' +
        'BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ' +
        '"Compiler diff" "BASE64" 4554 73 NIL ("ATTACHMENT" ("FILENAME" "cc.diff")) ("en" "fr") NIL) ' +
        '"MIXED" ("BOUNDARY" "xyz") NIL NIL NIL) ' +
        `BODY[HEADER.FIELDS (SUBJECT FROM)] {${body.length}}\r\n${body} BODY[]<10> NIL BINARY.SIZE[1] 12)\r\n`,
    );
    const [received] = frameAll(bytes, 7);
    const response = parseResponse(received!.fragments, { lenient: false });
    expect(Buffer.from(received!.streamed).toString()).toBe(body);
    if (response.type !== 'FETCH') throw new Error('not a FETCH');
    expect(response.number).toBe(12);
    const byItem = Object.fromEntries(
      response.attributes.map((a) => [a.item === 'OTHER' ? a.name : a.item, a]),
    );
    expect(byItem.UID).toEqual({ item: 'UID', uid: 4827313 });
    expect(byItem.FLAGS).toEqual({ item: 'FLAGS', flags: ['\\Seen', '$Label1'] });
    expect(byItem.INTERNALDATE).toEqual({ item: 'INTERNALDATE', date: '17-Jul-1996 02:44:25 -0700' });
    expect(byItem['RFC822.SIZE']).toEqual({ item: 'RFC822.SIZE', size: 4286 });
    expect(byItem.MODSEQ).toEqual({ item: 'MODSEQ', modSeq: 12121231000 });
    expect(byItem.EMAILID).toEqual({ item: 'EMAILID', id: 'M6d99ac3275bb4e' });
    expect(byItem.THREADID).toEqual({ item: 'THREADID', id: null });
    const envelope = (byItem.ENVELOPE as { envelope: Envelope }).envelope;
    expect(envelope.subject).toBe('IMAP4rev1 WG mtg summary and minutes');
    expect(envelope.cc).toEqual([
      { name: null, adl: null, mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
      { name: 'John Klensin', adl: null, mailbox: 'KLENSIN', host: 'MIT.EDU' },
    ]);
    expect(envelope.bcc).toBeNull();
    const structure = (byItem.BODYSTRUCTURE as { structure: BodyStructure }).structure;
    expect(structure).toMatchObject({
      kind: 'multipart',
      subtype: 'MIXED',
      extension: { parameters: [['BOUNDARY', 'xyz']], disposition: null, language: null, location: null },
    });
    if (structure.kind !== 'multipart') throw new Error('not a multipart');
    expect(structure.parts[0]).toMatchObject({ kind: 'text', size: 1152, lines: 23 });
    expect(structure.parts[1]).toMatchObject({
      id: '<960723163407.20117h@cac.washington.edu>',
      encoding: 'BASE64',
      extension: {
        md5: null,
        disposition: { type: 'ATTACHMENT', parameters: [['FILENAME', 'cc.diff']] },
        language: ['en', 'fr'],
      },
    });
    const header = response.attributes.find((a) => a.item === 'BODY[]' && a.origin === undefined);
    expect(header).toEqual({
      item: 'BODY[]',
      section: { part: [], text: 'HEADER.FIELDS', fields: ['SUBJECT', 'FROM'] },
      content: { kind: 'streamed', size: body.length, binary: false } satisfies StreamedFragment,
    });
    expect(response.attributes).toContainEqual({
      item: 'BODY[]',
      section: { part: [], text: null },
      origin: 10,
      content: null,
    });
    expect(byItem['BINARY.SIZE']).toEqual({ item: 'BINARY.SIZE', part: [1], size: 12 });
  });

  it('reads a message/rfc822 part with its envelope and body, and a literal8 BINARY value', () => {
    const bytes = Buffer.from(
      '* 3 FETCH (BODY ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 342 (NIL {5}\r\nInner NIL NIL NIL NIL NIL NIL NIL NIL) ' +
        '("TEXT" "PLAIN" NIL NIL NIL "8BIT" 10 1) 12) BINARY[1]<0> ~{3}\r\na\0b)\r\n',
      'latin1',
    );
    const [received] = frameAll(bytes, 3);
    expect(Buffer.from(received!.streamed).toString('latin1')).toBe('a\0b');
    expect(parseResponse(received!.fragments, { lenient: false })).toEqual({
      type: 'FETCH',
      number: 3,
      attributes: [
        {
          item: 'BODY',
          structure: {
            kind: 'message',
            type: 'MESSAGE',
            subtype: 'RFC822',
            parameters: null,
            id: null,
            description: null,
            encoding: '7BIT',
            size: 342,
            envelope: {
              date: null,
              subject: 'Inner',
              from: null,
              sender: null,
              replyTo: null,
              to: null,
              cc: null,
              bcc: null,
              inReplyTo: null,
              messageId: null,
            },
            body: {
              kind: 'text',
              type: 'TEXT',
              subtype: 'PLAIN',
              parameters: null,
              id: null,
              description: null,
              encoding: '8BIT',
              size: 10,
              lines: 1,
            },
            lines: 12,
          },
        },
        { item: 'BINARY[]', part: [1], origin: 0, content: { kind: 'streamed', size: 3, binary: true } },
      ],
    });
  });
});

describe('responses: Gmail and sloppy servers', () => {
  it('keeps X-GM-* attributes and reads what Gmail sends', () => {
    const responses = parseLines([
      '* 1 FETCH (X-GM-THRID 1278455344230334865 X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox \\Sent Important "Muy Importante") UID 4)',
      '* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584',
      '* LIST (\\HasNoChildren \\All) "/" "[Gmail]/All Mail"',
      '+ idling',
      '+ ',
      '+',
      '+ dXNlcj1mb28=',
      '+ [ALERT] read this',
    ]);
    expect(responses[0]).toEqual({
      type: 'FETCH',
      number: 1,
      attributes: [
        { item: 'OTHER', name: 'X-GM-THRID', value: '1278455344230334865' },
        { item: 'OTHER', name: 'X-GM-MSGID', value: '1278455344230334865' },
        { item: 'OTHER', name: 'X-GM-LABELS', value: ['\\Inbox', '\\Sent', 'Important', 'Muy Importante'] },
        { item: 'UID', uid: 4 },
      ],
    });
    expect(responses[1]).toMatchObject({
      type: 'CAPABILITY',
      capabilities: expect.arrayContaining(['X-GM-EXT-1']),
    });
    expect(responses[2]).toMatchObject({ mailbox: '[Gmail]/All Mail', flags: ['\\HasNoChildren', '\\All'] });
    expect(responses.slice(3)).toEqual([
      { type: 'continuation', text: 'idling' },
      { type: 'continuation', text: '' },
      { type: 'continuation', text: '' },
      { type: 'continuation', text: 'dXNlcj1mb28=' },
      { type: 'continuation', code: { code: 'ALERT' }, text: 'read this' },
    ]);
  });

  it('tolerates extra spaces, lower-case keywords and missing texts', () => {
    const responses = parseLines([
      'a1 ok [read-write]',
      '* search 1 2 3 ',
      '* 5   exists',
      '* STATUS INBOX (MESSAGES 3 UNSEEN 1 )',
      '* 4 FETCH ( UID 9  FLAGS ( \\Seen ) )',
      '* THREAD (1 2) (3 (4)(5))',
      '* 2 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1) ("TEXT" "HTML" NIL NIL NIL "7BIT" 4 1) "ALTERNATIVE"))',
      'a2 NO',
      '* OK [ALERT extra words] hi',
      '* LIST () "/" "bad&AGE-utf7"',
      '* XEXT some extension data',
      '* 7 XEXT',
      '* STATUS INBOX (MESSAGES 3 X-FOO (a b) UIDNEXT 9)',
      '* ESEARCH (TAG "a1") UID PARTIAL (1:10 1,3) COUNT 2',
    ]);
    expect(responses[0]).toEqual({
      type: 'tagged',
      tag: 'a1',
      status: 'OK',
      code: { code: 'READ-WRITE' },
      text: '',
    });
    expect(responses[1]).toEqual({ type: 'SEARCH', numbers: [1, 2, 3] });
    expect(responses[2]).toEqual({ type: 'EXISTS', number: 5 });
    expect(responses[3]).toEqual({ type: 'STATUS', mailbox: 'INBOX', values: { MESSAGES: 3, UNSEEN: 1 } });
    expect(responses[4]).toEqual({
      type: 'FETCH',
      number: 4,
      attributes: [
        { item: 'UID', uid: 9 },
        { item: 'FLAGS', flags: ['\\Seen'] },
      ],
    });
    expect(responses[5]).toEqual({
      type: 'THREAD',
      threads: [
        { chain: [1, 2], children: [] },
        {
          chain: [3],
          children: [
            { chain: [4], children: [] },
            { chain: [5], children: [] },
          ],
        },
      ],
    });
    expect(responses[6]).toMatchObject({
      attributes: [
        {
          structure: {
            kind: 'multipart',
            subtype: 'ALTERNATIVE',
            parts: [{ subtype: 'PLAIN' }, { subtype: 'HTML' }],
          },
        },
      ],
    });
    expect(responses[7]).toEqual({ type: 'tagged', tag: 'a2', status: 'NO', text: '' });
    expect(responses[8]).toMatchObject({ code: { code: 'ALERT' }, text: 'hi' });
    expect(responses[9]).toMatchObject({ mailbox: 'bad&AGE-utf7' });
    expect(responses[10]).toEqual({ type: 'OTHER', name: 'XEXT', text: 'some extension data' });
    expect(responses[11]).toEqual({ type: 'OTHER', name: 'XEXT', number: 7, text: '' });
    expect(responses[12]).toEqual({ type: 'STATUS', mailbox: 'INBOX', values: { MESSAGES: 3, UIDNEXT: 9 } });
    expect(responses[13]).toEqual({ type: 'ESEARCH', tag: 'a1', uid: true, count: 2 });
  });

  it('reads the malformed BODYSTRUCTURE extension data real servers send', () => {
    const [exchange, mailRu, related, encodingless] = parseLines([
      // Exchange: a bare disposition string rather than a list.
      '* 37 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 850 31 NIL "inline" NIL NIL)' +
        '("text" "html" ("charset" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 14692 502 NIL "inline" NIL NIL) "alternative" ("boundary" "b") NIL NIL))',
      // mail.ru: a parameter whose value is NIL.
      '* 4 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 536 0 NIL NIL NIL NIL) "alternative" ("boundary" NIL)))',
      // A multipart whose extension data has a field too many.
      '* 1 FETCH (BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 5 1) "related" ("type" "multipart/alternative") NIL ("inline" NIL) NIL NIL))',
      // NIL for the transfer encoding, and a parameter list where the MD5 goes.
      '* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "GB2312") NIL NIL NIL 0 0 ("BOUNDARY" "=2") NIL NIL) "RELATED" ("BOUNDARY" "=2") NIL NIL))',
    ]);
    const structure = (response: ImapResponse | undefined): unknown => {
      const attribute = response?.type === 'FETCH' ? response.attributes[0] : undefined;
      return attribute?.item === 'BODYSTRUCTURE' ? attribute.structure : undefined;
    };
    expect(structure(exchange)).toMatchObject({
      kind: 'multipart',
      parts: [
        { subtype: 'plain', extension: { md5: null, disposition: { type: 'inline', parameters: null } } },
        { subtype: 'html', extension: { disposition: { type: 'inline', parameters: null } } },
      ],
      extension: { parameters: [['boundary', 'b']] },
    });
    expect(structure(mailRu)).toMatchObject({ subtype: 'alternative', extension: { parameters: [] } });
    expect(structure(related)).toMatchObject({
      subtype: 'related',
      extension: { parameters: [['type', 'multipart/alternative']], disposition: null },
    });
    expect(structure(encodingless)).toMatchObject({
      parts: [{ kind: 'text', encoding: '7BIT', size: 0, lines: 0, extension: { md5: null } }],
      extension: { parameters: [['BOUNDARY', '=2']] },
    });
  });

  it('reads what it can of the malformed message/rfc822 parts real servers send, and never fails the FETCH', () => {
    const envelope = '(NIL "s" NIL NIL NIL NIL NIL NIL NIL "<m@x>")';
    const [domino, mailKit, bare, gmail, garbled] = parseLines([
      // Domino: the embedded message's body is `()`.
      '* 1 FETCH (UID 1 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 3 1 NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7BIT" 787 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) () 0 NIL NIL NIL) "report" ("report-type" "delivery-status") NIL NIL) FLAGS (\\Seen))',
      // MailKit #1393: a multipart without parts, `(NIL "alternative" …)`.
      `* 2 FETCH (UID 2 BODYSTRUCTURE ("message" "rfc822" ("name" "h") NIL NIL "7bit" 903 ${envelope} (NIL "alternative" ("boundary" "b") NIL NIL NIL) 17 NIL NIL NIL NIL))`,
      // A message/rfc822 part sent as a basic body, without envelope, body or lines.
      '* 3 FETCH (UID 3 BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 120 NIL ("attachment" ("filename" "a.eml")) NIL NIL))',
      // Gmail: `("ALTERNATIVE")` for an embedded message's empty multipart.
      `* 4 FETCH (UID 4 BODY ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 2942 ${envelope} ("ALTERNATIVE") 51))`,
      // Nothing readable at all.
      '* 5 FETCH (UID 5 BODYSTRUCTURE ("text" 12 "plain") FLAGS ())',
    ]);
    const attributes = (response: ImapResponse | undefined) =>
      response?.type === 'FETCH' ? response.attributes : [];
    expect(attributes(domino)).toMatchObject([
      { item: 'UID', uid: 1 },
      {
        item: 'BODYSTRUCTURE',
        structure: {
          kind: 'multipart',
          subtype: 'report',
          parts: [{ kind: 'text' }, { kind: 'basic', type: 'message', subtype: 'rfc822', size: 787 }],
        },
      },
      { item: 'FLAGS', flags: ['\\Seen'] },
    ]);
    expect(attributes(mailKit)[1]).toMatchObject({
      structure: {
        kind: 'message',
        envelope: { subject: 's', messageId: '<m@x>' },
        body: { kind: 'multipart', parts: [], subtype: 'alternative' },
        lines: 17,
      },
    });
    expect(attributes(bare)[1]).toMatchObject({
      structure: { kind: 'basic', type: 'message', subtype: 'rfc822', size: 120 },
    });
    expect(attributes(gmail)[1]).toMatchObject({
      item: 'BODY',
      structure: { kind: 'basic', type: 'MESSAGE', subtype: 'RFC822', size: 2942 },
    });
    expect(attributes(garbled)).toEqual([
      { item: 'UID', uid: 5 },
      { item: 'OTHER', name: 'BODYSTRUCTURE', value: ['text', '12', 'plain'] },
      { item: 'FLAGS', flags: [] },
    ]);
    expect(
      refused('* 1 FETCH (BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 120 NIL NIL NIL NIL))').text,
    ).toMatch(/Expected/);
  });

  it('keeps an ENVELOPE it cannot read as sent, and reads the rest of the FETCH', () => {
    // SmarterMail: an address where a list of addresses goes.
    const response = parseLine(
      '* 1 FETCH (UID 9 ENVELOPE ("Thu, 18 Jul 2019 01:29:32 -0300" "s" (NIL NIL "a" "example.com") NIL NIL NIL NIL NIL NIL "<m@x>") FLAGS ())',
    );
    expect(response).toEqual({
      type: 'FETCH',
      number: 1,
      attributes: [
        { item: 'UID', uid: 9 },
        {
          item: 'OTHER',
          name: 'ENVELOPE',
          value: [
            'Thu, 18 Jul 2019 01:29:32 -0300',
            's',
            [null, null, 'a', 'example.com'],
            null,
            null,
            null,
            null,
            null,
            null,
            '<m@x>',
          ],
        },
        { item: 'FLAGS', flags: [] },
      ],
    });
  });

  it('passes over mod-sequences above 2^53 − 1, losing only those values', () => {
    const huge = '9223372036854775807';
    expect(
      parseLines([
        `* SEARCH 2 3 (MODSEQ ${huge})`,
        `* ESEARCH (TAG "a1") MODSEQ ${huge} COUNT 2`,
        `* OK [HIGHESTMODSEQ ${huge}] x`,
        `* 1 FETCH (MODSEQ (${huge}) UID 4)`,
      ]),
    ).toEqual([
      { type: 'SEARCH', numbers: [2, 3] },
      { type: 'ESEARCH', tag: 'a1', uid: false, count: 2 },
      {
        type: 'status',
        status: 'OK',
        code: { code: 'UNKNOWN', atom: 'HIGHESTMODSEQ', text: huge },
        text: 'x',
      },
      {
        type: 'FETCH',
        number: 1,
        attributes: [
          { item: 'OTHER', name: 'MODSEQ', value: [huge] },
          { item: 'UID', uid: 4 },
        ],
      },
    ]);
    expect(refused(`* OK [HIGHESTMODSEQ ${huge}] x`).text).toMatch(/range/);
    expect(refused(`* SEARCH 2 (MODSEQ ${huge})`).text).toMatch(/range/);
  });

  it('refuses what the strict grammar refuses', () => {
    expect(refused('* 5 EXISTS extra').text).toMatch(/extra/i);
    expect(refused('a1 MAYBE done').text).toMatch(/OK, NO or BAD/);
    expect(refused('* OK [ALERT extra] x').text).toMatch(/"\]"/);
    expect(refused('* LIST () "/" "bad&AGE-utf7"').text).toMatch(/UTF-7/);
    expect(refused('* LIST () "//" x').text).toMatch(/delimiter/);
    expect(refused('* 0 FETCH (UID 1)').text).toMatch(/non-zero/);
    expect(refused('* 1 FETCH (INTERNALDATE "yesterday")').text).toMatch(/date-time/);
    expect(refused('* 1 FETCH (BODY[FOO] NIL)').text).toMatch(/section/);
    expect(refused('* 1 FETCH (BINARY[0] NIL)').text).toMatch(/part/);
    expect(refused('* 1 FETCH (BINARY.SIZE[1]<0> 5)').text).toMatch(/Unknown FETCH item/);
    expect(refused('* 1 FETCH (EMAILID (bad!id))').text).toMatch(/object id|Expected/);
    expect(refused('* ID ("name")').text).toMatch(/ID/);
    expect(refused('* ID (NIL "x")').text).toMatch(/NIL/);
    expect(refused('* THREAD ()').text).toMatch(/Empty thread/);
    expect(refused('* THREAD ((1)(2) 3)').text).toMatch(/branches/);
    expect(refused('* VANISHED (LATER) 1').text).toMatch(/EARLIER/);
    expect(refused('* SEARCH 1 (FOO 2)').text).toMatch(/MODSEQ/);
    expect(refused('* ESEARCH (FOO "x")').text).toMatch(/TAG/);
    expect(refused('a1 OK [APPENDUID 1 5:*] x').text).toMatch(/UID set/);
    for (const address of ['(NIL NIL "a")', '()', '(NIL NIL "a" "b" NIL)'])
      expect(refused(`* 1 FETCH (ENVELOPE (NIL NIL (${address}) NIL NIL NIL NIL NIL NIL NIL))`).text).toMatch(
        /four/,
      );
    expect(
      refused('* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL"a" "b")) NIL NIL NIL NIL NIL NIL NIL))').text,
    ).toMatch(/space/);
    expect(refused('* 1 FETCH (ENVELOPE (NILS NIL NIL NIL NIL NIL NIL NIL NIL NIL))').text).toMatch(/string/);
    expect(refused('* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET") NIL NIL "7BIT" 1 1))').text).toMatch(/pairs/);
    expect(refused('bad]tag OK x').text).toMatch(/tag/);
  });
});

describe('responses: hostile input (case 24)', () => {
  it('case 24: a FETCH literal of {4000000000} is refused before any allocation', () => {
    const reader = new ImapReader({ side: 'client' });
    reader.push(Buffer.from('* 1 FETCH (BODY[] {4000000000}\r\nabc'));
    const event = reader.next();
    expect(event).toMatchObject({ type: 'error', tooBig: true, fatal: true });
  });

  it('case 24: an oversized literal outside a FETCH body is refused too', () => {
    const reader = new ImapReader({ side: 'client' });
    reader.push(Buffer.from('* 1 FETCH (ENVELOPE ({4000000000}\r\n'));
    expect(reader.next()).toMatchObject({ type: 'error', tooBig: true });
  });

  it('case 24: COPYUID 1 1:4294967295 1:4294967295 stays two ranges', () => {
    const response = parseLine('a1 OK [COPYUID 1 1:4294967295 1:4294967295] Done');
    if (response.type !== 'tagged' || response.code?.code !== 'COPYUID') throw new Error('no COPYUID');
    expect(response.code.source.ranges).toEqual([{ start: 1, end: 4294967295 }]);
    expect(response.code.destination.count(0)).toBe(4294967295);
  });

  it('case 24: ESEARCH ALL 1:4294967295 stays one range', () => {
    const response = parseLine('* ESEARCH (TAG "a1") ALL 1:4294967295,7');
    if (response.type !== 'ESEARCH') throw new Error('no ESEARCH');
    expect(response.all!.ranges).toHaveLength(1);
    expect(response.all!.count(0)).toBe(4294967295);
  });

  it('case 24: VANISHED and MODIFIED over the whole UID space stay sets', () => {
    const vanished = parseLine('* VANISHED (EARLIER) 1:4294967295');
    expect(vanished).toMatchObject({ type: 'VANISHED', uids: { ranges: [{ start: 1, end: 4294967295 }] } });
    const modified = parseLine('a1 OK [MODIFIED 1:4294967295] x');
    expect(modified).toMatchObject({
      code: { code: 'MODIFIED', set: { ranges: [{ start: 1, end: 4294967295 }] } },
    });
  });

  it('case 24: a BODYSTRUCTURE nested 1,000 deep ends in a syntax error, not a stack overflow', () => {
    const deep = `* 1 FETCH (BODYSTRUCTURE ${'('.repeat(1000)}"TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1${') "MIXED"'.repeat(999)}))`;
    expect(refused(deep).text).toMatch(/Too deeply nested/);
    const nested = (depth: number): string =>
      `${'('.repeat(depth)}"TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)${' "MIXED")'.repeat(depth - 1)}`;
    expect(parseLine(`* 1 FETCH (BODYSTRUCTURE ${nested(50)})`)).toMatchObject({ type: 'FETCH' });
    expect(refused(`* 1 FETCH (BODYSTRUCTURE ${nested(50)})`, 20).text).toMatch(/Too deeply nested/);
  });

  it('case 24: THREAD nesting and numbers out of range are refused', () => {
    expect(refused(`* THREAD ${'(1 '.repeat(500)}${')'.repeat(500)}`).text).toMatch(/Too deeply nested/);
    expect(refused('* 4294967296 EXISTS').text).toMatch(/range/);
    expect(refused('* 1 FETCH (MODSEQ (99999999999999999999))').text).toMatch(/range/);
  });
});

describe('responses: serialization', () => {
  it('writes status responses, codes and continuations', () => {
    expect(
      text({ type: 'tagged', tag: 'a1', status: 'OK', code: { code: 'READ-WRITE' }, text: 'done' }),
    ).toBe('a1 OK [READ-WRITE] done\r\n');
    expect(text({ type: 'status', status: 'BYE', text: 'Logging out' })).toBe('* BYE Logging out\r\n');
    expect(text({ type: 'continuation', text: '' })).toBe('+ \r\n');
    expect(
      text({
        type: 'tagged',
        tag: 'a2',
        status: 'OK',
        code: {
          code: 'COPYUID',
          uidValidity: 9,
          source: SequenceSet.parse('1:3'),
          destination: SequenceSet.parse('7:9'),
        },
        text: 'Moved',
      }),
    ).toBe('a2 OK [COPYUID 9 1:3 7:9] Moved\r\n');
    expect(text({ type: 'VANISHED', earlier: true, uids: SequenceSet.parse('1:5') })).toBe(
      '* VANISHED (EARLIER) 1:5\r\n',
    );
  });

  it('streams FETCH bodies as a literal part of their own, never joined to the line', () => {
    const chunks = [Buffer.from('Hello '), Buffer.from('world')];
    const parts = serializeResponse({
      type: 'FETCH',
      number: 1,
      attributes: [
        { item: 'UID', uid: 5 },
        { item: 'BODY[]', section: { part: [1], text: null }, origin: 0, content: { size: 11, chunks } },
        { item: 'BINARY[]', part: [2], content: Buffer.from([1, 0, 2]) },
      ],
    });
    expect(parts.map((part) => part.kind)).toEqual(['bytes', 'stream', 'bytes', 'bytes', 'bytes']);
    expect(Buffer.from(wire(parts)).toString('latin1')).toBe(
      '* 1 FETCH (UID 5 BODY[1]<0> {11}\r\nHello world BINARY[2] ~{3}\r\n\x01\x00\x02)\r\n',
    );
  });

  it('writes mailbox names in modified UTF-7, or UTF-8 under UTF8=ACCEPT', () => {
    const list: ImapResponse = { type: 'LIST', flags: [], delimiter: '/', mailbox: 'Été' };
    expect(text(list)).toBe('* LIST () "/" &AMk-t&AOk-\r\n');
    const utf8 = serializeResponse(list, new ImapWriter({ side: 'server', utf8: true }), {
      utf8Accept: true,
    });
    expect(Buffer.from(wire(utf8)).toString()).toBe('* LIST () "/" "Été"\r\n');
  });

  it('refuses CR, LF and NUL in texts and values that break the grammar', () => {
    const bad: ImapResponse[] = [
      { type: 'tagged', tag: 'a1', status: 'OK', text: 'done\r\n* OK injected' },
      { type: 'status', status: 'OK', text: 'a\0b' },
      { type: 'continuation', text: 'x\ny' },
      { type: 'status', status: 'OK', text: '[ALERT] not a code' },
      { type: 'tagged', tag: 'a+1', status: 'OK', text: '' },
      {
        type: 'tagged',
        tag: 'a1',
        status: 'NO',
        code: { code: 'UNKNOWN', atom: 'X', text: 'a]b' },
        text: '',
      },
      { type: 'tagged', tag: 'a1', status: 'NO', code: { code: 'NOTACODE' } as never, text: '' },
      { type: 'tagged', tag: 'a1', status: 'NO', code: { code: 'MAILBOXID', id: 'a b' }, text: '' },
      { type: 'CAPABILITY', capabilities: ['IMAP4rev2', 'BAD CAP'] },
      { type: 'LIST', flags: [], delimiter: '//', mailbox: 'x' },
      { type: 'FETCH', number: 0, attributes: [{ item: 'UID', uid: 1 }] },
      { type: 'FETCH', number: 1, attributes: [] },
      { type: 'FETCH', number: 1, attributes: [{ item: 'UID', uid: 0 }] },
      { type: 'FETCH', number: 1, attributes: [{ item: 'INTERNALDATE', date: 'today' }] },
      { type: 'FETCH', number: 1, attributes: [{ item: 'BINARY.SIZE', part: [0], size: 1 }] },
      {
        type: 'FETCH',
        number: 1,
        attributes: [{ item: 'RFC822', content: { kind: 'streamed', size: 1, binary: false } }],
      },
      {
        type: 'FETCH',
        number: 1,
        attributes: [{ item: 'BODY', structure: { kind: 'multipart', parts: [], subtype: 'MIXED' } }],
      },
      { type: 'SEARCH', numbers: [0] },
      { type: 'THREAD', threads: [{ chain: [], children: [] }] },
      { type: 'THREAD', threads: [{ chain: [0], children: [] }] },
      { type: 'OTHER', name: 'XEXT', text: 'a\r\nb' },
    ];
    for (const response of bad) expect(() => serializeResponse(response), JSON.stringify(response)).toThrow();
  });
});

describe('serializeResponse: THREAD', () => {
  it('writes a thread nested 20,000 deep without recursion', () => {
    type Nested = { chain: number[]; children: Nested[] };
    const root: Nested = { chain: [1], children: [] };
    let node = root;
    for (let n = 2; n <= 20_000; n++) {
      const next: Nested = { chain: [n], children: [] };
      node.children.push(next, { chain: [n + 100_000], children: [] });
      node = next;
    }
    const text = new TextDecoder().decode(
      wire(serializeResponse({ type: 'THREAD', threads: [root] }, new ImapWriter({ side: 'server' }))),
    );
    expect(text.startsWith('* THREAD (1 (2 (3 ')).toBe(true);
    expect(text).toContain('(19999 (20000)(120000))(119999))');
    expect(text.endsWith('(100002))\r\n')).toBe(true);
  });
});
