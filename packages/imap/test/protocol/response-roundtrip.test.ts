import type { BodyStructure, Envelope, EnvelopeAddress, Section } from '@postwire/mime';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ImapResponse,
  parseResponse,
  serializeResponse,
  type Thread,
} from '../../src/protocol/response.js';
import type { ExtensionValue } from '../../src/protocol/response-body.js';
import type { ResponseCode } from '../../src/protocol/response-code.js';
import type { FetchAttribute } from '../../src/protocol/response-fetch.js';
import { SequenceSet } from '../../src/protocol/sequence-set.js';
import { ImapWriter } from '../../src/protocol/writer.js';
import { frameAll, wire } from './response-helpers.js';

const MAX = 4_294_967_295;
const atom = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.=-]{0,11}$/);
const upperAtom = fc.stringMatching(/^[A-Z][A-Z0-9-]{0,11}$/);
const extensionName = fc.stringMatching(/^X-[A-Z0-9]{1,8}$/);
const flag = fc.oneof(
  fc.constantFrom('\\Seen', '\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '$Forwarded'),
  atom,
);
const number = fc.integer({ min: 0, max: MAX });
const nzNumber = fc.integer({ min: 1, max: MAX });
const number64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const string = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !s.includes('\0'));
const nstring = fc.option(string, { nil: null });
/** Text ending a line: no CR, LF or NUL, not ending like a literal announcement. */
const lineText = fc
  .string({ unit: 'grapheme', maxLength: 40 })
  .filter((s) => !/[\r\n\0]/.test(s) && !/\{\d+[+-]?\}$/.test(s));
const mailbox = string.filter((s) => s.toUpperCase() !== 'INBOX');
const objectId = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
const bytes = fc.uint8Array({ maxLength: 64 });
const uidSet = fc
  .array(fc.tuple(nzNumber, nzNumber), { minLength: 1, maxLength: 4 })
  .map((pairs) => SequenceSet.of(pairs.map(([start, end]) => ({ start, end }))));

const code: fc.Arbitrary<ResponseCode> = fc.oneof(
  fc.constantFrom<ResponseCode>(
    { code: 'ALERT' },
    { code: 'READ-ONLY' },
    { code: 'TRYCREATE' },
    { code: 'UIDNOTSTICKY' },
    { code: 'NOMODSEQ' },
    { code: 'CLOSED' },
    { code: 'OVERQUOTA' },
    { code: 'UNKNOWN-CTE' },
    { code: 'USEATTR' },
    { code: 'EXPUNGEISSUED' },
  ),
  fc.array(atom, { maxLength: 3 }).map((charsets) => ({ code: 'BADCHARSET', charsets }) as const),
  fc.array(atom, { maxLength: 5 }).map((capabilities) => ({ code: 'CAPABILITY', capabilities }) as const),
  fc
    .array(fc.oneof(flag, fc.constant('\\*')), { maxLength: 5 })
    .map((flags) => ({ code: 'PERMANENTFLAGS', flags }) as const),
  fc
    .tuple(fc.constantFrom('UIDNEXT', 'UIDVALIDITY', 'UNSEEN'), number)
    .map(([name, value]) => ({ code: name, value }) as const),
  fc
    .tuple(nzNumber, uidSet)
    .map(([uidValidity, uids]) => ({ code: 'APPENDUID', uidValidity, uids }) as const),
  fc
    .tuple(nzNumber, uidSet, uidSet)
    .map(
      ([uidValidity, source, destination]) =>
        ({ code: 'COPYUID', uidValidity, source, destination }) as const,
    ),
  number64.map((modSeq) => ({ code: 'HIGHESTMODSEQ', modSeq }) as const),
  uidSet.map((set) => ({ code: 'MODIFIED', set }) as const),
  objectId.map((id) => ({ code: 'MAILBOXID', id }) as const),
  fc
    .tuple(
      extensionName,
      fc.option(
        // A lenient reader takes any run of spaces after the atom as one separator.
        lineText.filter((t) => !t.includes(']') && t !== '' && !t.startsWith(' ')),
        { nil: undefined },
      ),
    )
    .map(([name, text]) => ({ code: 'UNKNOWN', atom: name, ...(text !== undefined && { text }) }) as const),
);

const statusText = lineText.filter((t) => !t.startsWith('['));
const status: fc.Arbitrary<ImapResponse> = fc.oneof(
  fc
    .record({
      tag: fc.stringMatching(/^[A-Za-z0-9.]{1,6}$/),
      status: fc.constantFrom('OK', 'NO', 'BAD'),
      code: fc.option(code, { nil: undefined }),
      text: lineText,
    })
    .filter((r) => r.code !== undefined || !r.text.startsWith('['))
    .map(({ code: c, ...rest }) => ({ type: 'tagged', ...rest, ...(c && { code: c }) }) as ImapResponse),
  fc
    .record({ status: fc.constantFrom('OK', 'NO', 'BAD', 'PREAUTH', 'BYE'), code, text: lineText })
    .map((r) => ({ type: 'status', ...r }) as ImapResponse),
  statusText.map((text) => ({ type: 'continuation', text }) as ImapResponse),
);

const address: fc.Arbitrary<EnvelopeAddress> = fc.record({
  name: nstring,
  adl: nstring,
  mailbox: nstring,
  host: nstring,
});
const addresses = fc.option(fc.array(address, { minLength: 1, maxLength: 3 }), { nil: null });
const envelope: fc.Arbitrary<Envelope> = fc.record({
  date: nstring,
  subject: nstring,
  from: addresses,
  sender: addresses,
  replyTo: addresses,
  to: addresses,
  cc: addresses,
  bcc: addresses,
  inReplyTo: nstring,
  messageId: nstring,
});
const parameters = fc.option(fc.array(fc.tuple(string, string), { minLength: 1, maxLength: 2 }), {
  nil: null,
});
const common = fc.record({
  disposition: fc.option(fc.record({ type: string, parameters }), { nil: null }),
  language: fc.oneof(nstring, fc.array(string, { minLength: 1, maxLength: 2 })),
  location: nstring,
});
const fields = fc.record({
  subtype: string,
  parameters,
  id: nstring,
  description: nstring,
  encoding: string,
  size: number,
});
const single = fc.option(
  fc.tuple(nstring, common).map(([md5, rest]) => ({ md5, ...rest })),
  { nil: undefined },
);
const withExtension = <T extends object>(body: T, extension: object | undefined): T =>
  extension === undefined ? body : { ...body, extension };
const { body: bodyStructure } = fc.letrec<{ body: BodyStructure }>((tie) => ({
  body: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(fields, fc.constantFrom('APPLICATION', 'image', 'Audio'), single)
      .map(([f, type, ext]) => withExtension({ kind: 'basic', type, ...f } as BodyStructure, ext)),
    fc
      .tuple(fields, number, fc.constantFrom('TEXT', 'text'), single)
      .map(([f, lines, type, ext]) =>
        withExtension({ kind: 'text', type, ...f, lines } as BodyStructure, ext),
      ),
    fc
      .tuple(fields, envelope, tie('body'), number, fc.constantFrom('RFC822', 'global'), single)
      .map(([f, env, body, lines, subtype, ext]) =>
        withExtension(
          { kind: 'message', type: 'MESSAGE', ...f, subtype, envelope: env, body, lines } as BodyStructure,
          ext,
        ),
      ),
    fc
      .tuple(
        fc.array(tie('body'), { minLength: 1, maxLength: 3 }),
        string,
        fc.option(
          fc.tuple(parameters, common).map(([p, rest]) => ({ parameters: p, ...rest })),
          { nil: undefined },
        ),
      )
      .map(([parts, subtype, ext]) =>
        withExtension({ kind: 'multipart', parts, subtype } as BodyStructure, ext),
      ),
  ),
}));
const { value: extensionValue } = fc.letrec<{ value: ExtensionValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    string,
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
  ),
}));
const section = fc.constantFrom<Section>(
  { part: [], text: null },
  { part: [1, 2], text: null },
  { part: [3], text: 'MIME' },
  { part: [], text: 'HEADER' },
  { part: [2], text: 'TEXT' },
  { part: [], text: 'HEADER.FIELDS', fields: ['SUBJECT', 'FROM'] },
  { part: [1], text: 'HEADER.FIELDS.NOT', fields: ['X-SPAM'] },
);
const origin = fc.option(number, { nil: undefined });
const at = (o: number | undefined) => (o === undefined ? {} : { origin: o });
const part = fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 });
const attribute: fc.Arbitrary<FetchAttribute> = fc.oneof(
  fc.array(flag, { maxLength: 4 }).map((flags) => ({ item: 'FLAGS', flags }) as const),
  fc.constant({ item: 'INTERNALDATE', date: '17-Jul-1996 02:44:25 -0700' } as const),
  number64.map((size) => ({ item: 'RFC822.SIZE', size }) as const),
  envelope.map((e) => ({ item: 'ENVELOPE', envelope: e }) as const),
  fc
    .tuple(fc.constantFrom('BODY', 'BODYSTRUCTURE'), bodyStructure)
    .map(([item, structure]) => ({ item, structure }) as const),
  fc
    .tuple(
      section,
      origin,
      fc.option(
        bytes.filter((b) => !b.includes(0)),
        { nil: null },
      ),
    )
    .map(([s, o, content]) => ({ item: 'BODY[]', section: s, ...at(o), content }) as const),
  fc
    .tuple(part, origin, fc.option(bytes, { nil: null }))
    .map(([p, o, content]) => ({ item: 'BINARY[]', part: p, ...at(o), content }) as const),
  fc.tuple(part, number64).map(([p, size]) => ({ item: 'BINARY.SIZE', part: p, size }) as const),
  fc
    .tuple(
      fc.constantFrom('RFC822', 'RFC822.HEADER', 'RFC822.TEXT'),
      fc.option(
        bytes.filter((b) => !b.includes(0)),
        { nil: null },
      ),
    )
    .map(([item, content]) => ({ item, content }) as const),
  nzNumber.map((uid) => ({ item: 'UID', uid }) as const),
  number64.map((modSeq) => ({ item: 'MODSEQ', modSeq }) as const),
  objectId.map((id) => ({ item: 'EMAILID', id }) as const),
  fc.option(objectId, { nil: null }).map((id) => ({ item: 'THREADID', id }) as const),
  fc.tuple(extensionName, extensionValue).map(([name, value]) => ({ item: 'OTHER', name, value }) as const),
);
const { thread } = fc.letrec<{ thread: Thread }>((tie) => ({
  thread: fc.oneof(
    { depthSize: 'small' },
    fc.array(nzNumber, { minLength: 1, maxLength: 3 }).map((chain) => ({ chain, children: [] })),
    fc
      .tuple(fc.array(nzNumber, { maxLength: 2 }), fc.array(tie('thread'), { minLength: 2, maxLength: 3 }))
      .map(([chain, children]) => ({ chain, children })),
  ),
}));
const namespace = fc.record(
  {
    prefix: string,
    delimiter: fc.option(fc.constantFrom('/', '.', '\\', '"'), { nil: null }),
    extensions: fc.array(fc.tuple(string, fc.array(string, { minLength: 1, maxLength: 2 })), {
      minLength: 1,
      maxLength: 2,
    }),
  },
  { requiredKeys: ['prefix', 'delimiter'] },
);
const namespaces = fc.option(fc.array(namespace, { minLength: 1, maxLength: 2 }), { nil: null });
const statusValues = fc.record(
  {
    MESSAGES: number,
    RECENT: number,
    UIDNEXT: nzNumber,
    UIDVALIDITY: nzNumber,
    UNSEEN: number,
    DELETED: number,
    SIZE: number64,
    HIGHESTMODSEQ: number64,
    APPENDLIMIT: fc.option(number, { nil: null }),
    MAILBOXID: objectId,
  },
  { requiredKeys: [] },
);

const data: fc.Arbitrary<ImapResponse> = fc.oneof(
  fc
    .tuple(fc.constantFrom('CAPABILITY', 'ENABLED'), fc.array(atom, { maxLength: 6 }))
    .map(([type, capabilities]) => ({ type, capabilities }) as ImapResponse),
  fc
    .record(
      {
        type: fc.constantFrom('LIST', 'LSUB'),
        flags: fc.array(fc.oneof(atom, fc.constantFrom('\\HasChildren', '\\Noselect', '\\Sent')), {
          maxLength: 3,
        }),
        delimiter: fc.option(fc.constantFrom('/', '.', '\\', '"'), { nil: null }),
        mailbox,
        childInfo: fc.array(upperAtom, { maxLength: 2 }),
        oldName: mailbox,
      },
      { requiredKeys: ['type', 'flags', 'delimiter', 'mailbox'] },
    )
    .map((r) => r as ImapResponse),
  fc.record({ type: fc.constant('STATUS'), mailbox, values: statusValues }).map((r) => r as ImapResponse),
  fc.array(flag, { maxLength: 5 }).map((flags) => ({ type: 'FLAGS', flags }) as ImapResponse),
  fc
    .tuple(fc.constantFrom('EXISTS', 'RECENT', 'EXPUNGE'), number)
    .map(([type, n]) => ({ type, number: n }) as ImapResponse),
  fc
    .record(
      {
        type: fc.constantFrom('SEARCH', 'SORT'),
        numbers: fc.array(nzNumber, { maxLength: 6 }),
        modSeq: number64,
      },
      { requiredKeys: ['type', 'numbers'] },
    )
    .map((r) => r as ImapResponse),
  fc
    .record(
      {
        tag: string,
        uid: fc.boolean(),
        min: nzNumber,
        max: nzNumber,
        count: number,
        all: uidSet,
        modSeq: number64,
      },
      { requiredKeys: ['uid'] },
    )
    .map((r) => ({ type: 'ESEARCH', ...r }) as ImapResponse),
  fc.array(thread, { maxLength: 3 }).map((threads) => ({ type: 'THREAD', threads }) as ImapResponse),
  fc
    .tuple(nzNumber, fc.array(attribute, { minLength: 1, maxLength: 4 }))
    .map(([n, attributes]) => ({ type: 'FETCH', number: n, attributes }) as ImapResponse),
  fc
    .tuple(fc.boolean(), uidSet)
    .map(([earlier, uids]) => ({ type: 'VANISHED', earlier, uids }) as ImapResponse),
  fc
    .option(fc.array(fc.tuple(string, nstring), { maxLength: 3 }), { nil: null })
    .map((parameters) => ({ type: 'ID', parameters }) as ImapResponse),
  fc
    .tuple(namespaces, namespaces, namespaces)
    .map(([personal, other, shared]) => ({ type: 'NAMESPACE', personal, other, shared }) as ImapResponse),
  fc
    .tuple(
      string,
      fc.array(fc.record({ name: upperAtom, usage: number64, limit: number64 }), { maxLength: 3 }),
    )
    .map(([root, resources]) => ({ type: 'QUOTA', root, resources }) as ImapResponse),
  fc
    .tuple(mailbox, fc.array(string, { maxLength: 3 }))
    .map(([m, roots]) => ({ type: 'QUOTAROOT', mailbox: m, roots }) as ImapResponse),
  fc
    .record({ name: extensionName, number: nzNumber, text: lineText }, { requiredKeys: ['name', 'text'] })
    .map((r) => ({ type: 'OTHER', ...r }) as ImapResponse),
);
const response = fc.oneof(status, data);

const serialize = (r: ImapResponse, utf8: boolean): Uint8Array =>
  wire(serializeResponse(r, new ImapWriter({ side: 'server', utf8 }), { utf8Accept: utf8 }));

/** Literals are held in memory here, so that FETCH bodies compare as bytes. */
const held = { streamLiteral: () => false };

describe('responses: serialize → parse identity', () => {
  it('gives back every generated response, in ASCII and under UTF8=ACCEPT', () => {
    fc.assert(
      fc.property(response, fc.boolean(), (r, utf8) => {
        const received = frameAll(serialize(r, utf8), undefined, held);
        expect(received).toHaveLength(1);
        expect(parseResponse(received[0]!.fragments, { lenient: false, utf8Accept: utf8 })).toEqual(r);
        expect(parseResponse(received[0]!.fragments, { utf8Accept: utf8 })).toEqual(r);
      }),
      { numRuns: 400 },
    );
  });

  it('parses the same responses and streams the same bytes whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(response, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 17 }),
        (responses, chunk) => {
          const bytes = Buffer.concat(responses.map((r) => serialize(r, false)));
          const whole = frameAll(bytes);
          const chunked = frameAll(bytes, chunk);
          expect(chunked).toHaveLength(responses.length);
          expect(chunked.map((x) => Buffer.from(x.streamed))).toEqual(
            whole.map((x) => Buffer.from(x.streamed)),
          );
          expect(chunked.map((x) => parseResponse(x.fragments))).toEqual(
            whole.map((x) => parseResponse(x.fragments)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
