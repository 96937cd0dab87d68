import { InvalidArgumentError } from '@postwire/core';
import type { StatusItem } from './command.js';
import { ImapCursor } from './cursor.js';
import { decodeMailboxName, encodeMailboxName } from './mailbox-name.js';
import type { Fragment } from './reader.js';
import { readExtensionValue } from './response-body.js';
import {
  type ResponseCode,
  readAtoms,
  readObjectId,
  readResponseCode,
  writeObjectId,
  writeResponseCode,
} from './response-code.js';
import { type FetchAttribute, readFetchAttributes, writeFetchAttributes } from './response-fetch.js';
import { SequenceSet } from './sequence-set.js';
import { type ImapWriter, type OutputPart, ImapWriter as Writer } from './writer.js';

/** The values of a STATUS response (RFC 9051 §7.3.4 and the extensions' items). */
export type StatusValues = {
  readonly [K in Exclude<StatusItem, 'APPENDLIMIT' | 'MAILBOXID'>]?: number;
} & {
  /** RFC 7889: `null` when there is no limit. */
  readonly APPENDLIMIT?: number | null;
  /** RFC 8474. */
  readonly MAILBOXID?: string;
};

/** One thread of a THREAD response (RFC 5256): a chain of messages, then the threads branching from its end. */
export interface Thread {
  /** The messages of the chain (numbers, or UIDs for UID THREAD), parent first. */
  readonly chain: readonly number[];
  /** The threads branching from the chain's last message. */
  readonly children: readonly Thread[];
}

/** One namespace of a NAMESPACE response (RFC 2342), with its extensions. */
export interface Namespace {
  /** The prefix as sent. */
  readonly prefix: string;
  /** The hierarchy delimiter, or `null` for a flat namespace (`NIL`). */
  readonly delimiter: string | null;
  /** The namespace response extensions: each name with its values. */
  readonly extensions?: readonly (readonly [name: string, values: readonly string[]])[];
}

/** A resource of a QUOTA response (RFC 9208): usage and limit, in the resource's units. */
export interface QuotaResource {
  /** The resource's name, such as `STORAGE` or `MESSAGE`. */
  readonly name: string;
  /** The current usage. */
  readonly usage: number;
  /** The limit. */
  readonly limit: number;
}

/** A status response: tagged (OK, NO, BAD), or untagged (also PREAUTH and BYE). */
export type StatusResponse =
  | {
      /** The response's kind. */
      readonly type: 'tagged';
      /** The tag of the command it completes. */
      readonly tag: string;
      /** The command's result. */
      readonly status: 'OK' | 'NO' | 'BAD';
      /** The response code in brackets, when sent. */
      readonly code?: ResponseCode;
      /** The human-readable text. */
      readonly text: string;
    }
  | {
      /** The response's kind. */
      readonly type: 'status';
      /** The condition. */
      readonly status: 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';
      /** The response code in brackets, when sent. */
      readonly code?: ResponseCode;
      /** The human-readable text. */
      readonly text: string;
    };

/** An untagged data response. Mailbox names are decoded text. */
export type DataResponse =
  | {
      /** The response's kind. */
      readonly type: 'CAPABILITY' | 'ENABLED';
      /** The capabilities listed (or enabled, RFC 5161). */
      readonly capabilities: readonly string[];
    }
  | {
      /** The response's kind. */
      readonly type: 'LIST' | 'LSUB';
      /** The mailbox attributes, such as `\Noselect` or `\HasChildren`. */
      readonly flags: readonly string[];
      /** The hierarchy delimiter, or `null` for `NIL`. */
      readonly delimiter: string | null;
      /** The mailbox name. */
      readonly mailbox: string;
      /** RFC 5258 CHILDINFO: the selection options the children match. */
      readonly childInfo?: readonly string[];
      /** RFC 5465 / RFC 9051 OLDNAME: the name before a RENAME. */
      readonly oldName?: string;
    }
  | {
      /** The response's kind. */
      readonly type: 'STATUS';
      /** The mailbox name. */
      readonly mailbox: string;
      /** The STATUS items and their values. */
      readonly values: StatusValues;
    }
  | {
      /** The response's kind. */
      readonly type: 'FLAGS';
      /** The flags that apply to the selected mailbox. */
      readonly flags: readonly string[];
    }
  | {
      /** The response's kind. */
      readonly type: 'EXISTS' | 'RECENT' | 'EXPUNGE';
      /** The message count (EXISTS, RECENT) or the expunged message's number (EXPUNGE). */
      readonly number: number;
    }
  | {
      /** The response's kind. */
      readonly type: 'SEARCH' | 'SORT';
      /** The matching messages: numbers, or UIDs for the UID commands. */
      readonly numbers: readonly number[];
      /** The highest mod-sequence of the messages found (RFC 7162 §3.1.5), when sent. */
      readonly modSeq?: number;
    }
  /** RFC 4731 (with RFC 7162's MODSEQ); `all` stays a set of ranges. */
  | {
      /** The response's kind. */
      readonly type: 'ESEARCH';
      /** The tag of the command it answers, when sent. */
      readonly tag?: string;
      /** The results are UIDs. */
      readonly uid: boolean;
      /** The lowest matching message, when asked for. */
      readonly min?: number;
      /** The highest matching message, when asked for. */
      readonly max?: number;
      /** The number of matching messages, when asked for. */
      readonly count?: number;
      /** Every matching message, when asked for. */
      readonly all?: SequenceSet;
      /** The highest mod-sequence of the messages found, when sent. */
      readonly modSeq?: number;
    }
  | {
      /** The response's kind. */
      readonly type: 'THREAD';
      /** The threads, in order. */
      readonly threads: readonly Thread[];
    }
  | {
      /** The response's kind. */
      readonly type: 'FETCH';
      /** The message sequence number. */
      readonly number: number;
      /** The data items returned. */
      readonly attributes: readonly FetchAttribute[];
    }
  /** RFC 7162: expunged UIDs; `earlier` for those reported by a SELECT or FETCH with QRESYNC. */
  | {
      /** The response's kind. */
      readonly type: 'VANISHED';
      /** The `(EARLIER)` tag was sent. */
      readonly earlier: boolean;
      /** The UIDs of the expunged messages. */
      readonly uids: SequenceSet;
    }
  | {
      /** The response's kind. */
      readonly type: 'ID';
      /** The server's field-value pairs (RFC 2971), or `null` for `NIL`. */
      readonly parameters: readonly (readonly [string, string | null])[] | null;
    }
  | {
      /** The response's kind. */
      readonly type: 'NAMESPACE';
      /** The personal namespaces, or `null` for `NIL`. */
      readonly personal: readonly Namespace[] | null;
      /** The other users' namespaces, or `null` for `NIL`. */
      readonly other: readonly Namespace[] | null;
      /** The shared namespaces, or `null` for `NIL`. */
      readonly shared: readonly Namespace[] | null;
    }
  | {
      /** The response's kind. */
      readonly type: 'QUOTA';
      /** The quota root. */
      readonly root: string;
      /** Its resources, with usage and limit. */
      readonly resources: readonly QuotaResource[];
    }
  | {
      /** The response's kind. */
      readonly type: 'QUOTAROOT';
      /** The mailbox asked about. */
      readonly mailbox: string;
      /** Its quota roots. */
      readonly roots: readonly string[];
    }
  /**
   * A response of an extension this grammar does not know: its name (upper case), the number before it
   * when there was one, and the rest of its first line as sent (the contents of any literals are dropped).
   */
  | {
      /** The response's kind. */
      readonly type: 'OTHER';
      /** The response's name, upper-cased. */
      readonly name: string;
      /** The number before the name, when there was one. */
      readonly number?: number;
      /** The rest of the first line, as sent. */
      readonly text: string;
    };

/** A continuation request: `+` and its text (or the base64 of a SASL challenge). */
export interface ContinuationResponse {
  /** The response's kind. */
  readonly type: 'continuation';
  /** The response code in brackets, when sent. */
  readonly code?: ResponseCode;
  /** The text, or the base64 of a SASL challenge. */
  readonly text: string;
}

/** Any server response. */
export type ImapResponse = StatusResponse | DataResponse | ContinuationResponse;

/** Options of {@link parseResponse} and {@link serializeResponse}. */
export interface ResponseOptions {
  /** UTF8=ACCEPT is enabled: mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8Accept?: boolean;
  /** Nesting allowed in lists, BODYSTRUCTURE and THREAD; default 100 (Dovecot: 110). */
  readonly maxDepth?: number;
  /** Tolerate what real servers send: odd spaces, keywords in lower case, unknown codes' shapes; default `true`. */
  readonly lenient?: boolean;
}

const TAG = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5e-\x7a\x7c-\x7e]+$/;
const NUMBERED = new Set(['EXISTS', 'RECENT', 'EXPUNGE', 'FETCH']);
const STATUS_NUMBERS = new Set([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
]);
const LITERAL_END = /\{\d+[+-]?\}$/;
const STATUS_ORDER = [...STATUS_NUMBERS, 'APPENDLIMIT', 'MAILBOXID'];

/**
 * Parses one framed response (from an {@link ImapReader} on the client side). Sets and ranges stay
 * {@link SequenceSet}s; nesting is bounded by `maxDepth`; streamed FETCH bodies come back as their fragment.
 * @throws ImapSyntaxError for a response that cannot be read.
 */
export function parseResponse(fragments: readonly Fragment[], options: ResponseOptions = {}): ImapResponse {
  const cursor = new ImapCursor(fragments, {
    maxDepth: options.maxDepth ?? 100,
    lenient: options.lenient ?? true,
  });
  const utf8 = options.utf8Accept ?? false;
  let response: ImapResponse;
  if (cursor.tryByte(0x2b)) {
    cursor.tryByte(0x20);
    response = { type: 'continuation', ...readText(cursor) };
  } else if (cursor.tryByte(0x2a)) {
    cursor.sp();
    response = readUntagged(cursor, utf8);
  } else {
    const tag = cursor.word('astring');
    if (!TAG.test(tag)) cursor.fail('Invalid tag');
    cursor.tag = tag;
    cursor.sp();
    const status = cursor.keyword();
    if (status !== 'OK' && status !== 'NO' && status !== 'BAD') return cursor.fail('Expected OK, NO or BAD');
    cursor.tryByte(0x20);
    response = { type: 'tagged', tag, status, ...readText(cursor) };
  }
  cursor.end();
  return response;
}

function readText(cursor: ImapCursor): { code?: ResponseCode; text: string } {
  if (cursor.peek() !== 0x5b) return { text: cursor.rest() };
  const code = readResponseCode(cursor);
  cursor.tryByte(0x20);
  return { code, text: cursor.rest() };
}

function readUntagged(cursor: ImapCursor, utf8: boolean): ImapResponse {
  const mailbox = (): string => {
    const wire = cursor.astring();
    try {
      return decodeMailboxName(wire, utf8);
    } catch (error) {
      if (cursor.lenient) return wire;
      throw error;
    }
  };
  if (cursor.peek() !== undefined && cursor.peek()! >= 0x30 && cursor.peek()! <= 0x39) {
    const number = cursor.number();
    cursor.sp();
    const name = cursor.keyword();
    if (!NUMBERED.has(name)) {
      cursor.tryByte(0x20);
      return { type: 'OTHER', name, number, text: cursor.rest() };
    }
    if (name === 'FETCH') {
      if (number === 0) cursor.fail('Expected a non-zero number');
      cursor.sp();
      return { type: 'FETCH', number, attributes: readFetchAttributes(cursor) };
    }
    return { type: name as 'EXISTS' | 'RECENT' | 'EXPUNGE', number };
  }
  const name = cursor.keyword();
  switch (name) {
    case 'OK':
    case 'NO':
    case 'BAD':
    case 'PREAUTH':
    case 'BYE':
      cursor.tryByte(0x20);
      return { type: 'status', status: name, ...readText(cursor) };
    case 'CAPABILITY':
    case 'ENABLED':
      return { type: name, capabilities: readAtoms(cursor) };
    case 'LIST':
    case 'LSUB':
      return readList(cursor, name, mailbox);
    case 'STATUS': {
      cursor.sp();
      const box = mailbox();
      cursor.sp();
      return { type: name, mailbox: box, values: readStatusValues(cursor) };
    }
    case 'FLAGS':
      cursor.sp();
      return { type: name, flags: cursor.list(() => cursor.word('flag')) };
    case 'SEARCH':
    case 'SORT':
      return readNumbers(cursor, name);
    case 'ESEARCH':
      return readEsearch(cursor);
    case 'THREAD': {
      const threads: Thread[] = [];
      if (cursor.trySp())
        while (cursor.peek() === 0x28) {
          threads.push(readThread(cursor));
          if (cursor.lenient) cursor.trySp();
        }
      return { type: name, threads };
    }
    case 'VANISHED': {
      cursor.sp();
      let earlier = false;
      if (cursor.peek() === 0x28) {
        cursor.list(() => {
          if (cursor.keyword() !== 'EARLIER') cursor.fail('Expected EARLIER');
          earlier = true;
        });
        cursor.sp();
      }
      return { type: name, earlier, uids: SequenceSet.parse(cursor.word('sequence')) };
    }
    case 'ID':
      cursor.sp();
      return { type: name, parameters: readId(cursor) };
    case 'NAMESPACE': {
      cursor.sp();
      const personal = readNamespaces(cursor);
      cursor.sp();
      const other = readNamespaces(cursor);
      cursor.sp();
      return { type: name, personal, other, shared: readNamespaces(cursor) };
    }
    case 'QUOTA': {
      cursor.sp();
      const root = cursor.astring();
      cursor.sp();
      const resources = cursor.list(() => {
        const resource = cursor.keyword();
        cursor.sp();
        const usage = cursor.number64();
        cursor.sp();
        return { name: resource, usage, limit: cursor.number64() };
      });
      return { type: name, root, resources };
    }
    case 'QUOTAROOT': {
      cursor.sp();
      const box = mailbox();
      const roots: string[] = [];
      while (cursor.trySp() && cursor.peek() !== undefined) roots.push(cursor.astring());
      return { type: name, mailbox: box, roots };
    }
    default:
      cursor.tryByte(0x20);
      return { type: 'OTHER', name, text: cursor.rest() };
  }
}

function readList(cursor: ImapCursor, type: 'LIST' | 'LSUB', mailbox: () => string): DataResponse {
  cursor.sp();
  const flags = cursor.list(() => cursor.word('flag'));
  cursor.sp();
  let delimiter: string | null = null;
  if (!cursor.nil()) {
    delimiter = cursor.string();
    if (delimiter.length !== 1) cursor.fail('A hierarchy delimiter is one character');
  }
  cursor.sp();
  const box = mailbox();
  let childInfo: string[] | undefined;
  let oldName: string | undefined;
  if (cursor.trySp() && cursor.peek() === 0x28) {
    cursor.list(() => {
      const tag = cursor.astring().toUpperCase();
      cursor.sp();
      if (tag === 'CHILDINFO') childInfo = cursor.list(() => cursor.astring().toUpperCase());
      else if (tag === 'OLDNAME') {
        const names = cursor.list(mailbox);
        if (names.length !== 1) cursor.fail('OLDNAME holds one name');
        oldName = names[0]!;
      } else readExtensionValue(cursor);
    });
  }
  return {
    type,
    flags,
    delimiter,
    mailbox: box,
    ...(childInfo && { childInfo }),
    ...(oldName !== undefined && { oldName }),
  };
}

function readStatusValues(cursor: ImapCursor): StatusValues {
  const values: Record<string, number | string | null> = {};
  cursor.list(() => {
    const item = cursor.keyword();
    cursor.sp();
    if (STATUS_NUMBERS.has(item)) {
      const value = readNumber64(cursor);
      if (value !== undefined) values[item] = value;
    } else if (item === 'APPENDLIMIT') values[item] = cursor.nil() ? null : cursor.number64();
    else if (item === 'MAILBOXID') values[item] = readObjectId(cursor);
    else readExtensionValue(cursor);
  });
  return values as StatusValues;
}

function readNumbers(cursor: ImapCursor, type: 'SEARCH' | 'SORT'): DataResponse {
  const numbers: number[] = [];
  let modSeq: number | undefined;
  while (cursor.trySp()) {
    const next = cursor.peek();
    if (next === undefined) break;
    if (next === 0x28) {
      cursor.list(() => {
        if (cursor.keyword() !== 'MODSEQ') cursor.fail('Expected MODSEQ');
        cursor.sp();
        modSeq = readNumber64(cursor);
      });
      break;
    }
    numbers.push(cursor.nzNumber());
  }
  return { type, numbers, ...(modSeq !== undefined && { modSeq }) };
}

function readEsearch(cursor: ImapCursor): DataResponse {
  const result: {
    tag?: string;
    uid: boolean;
    min?: number;
    max?: number;
    count?: number;
    all?: SequenceSet;
    modSeq?: number;
  } = {
    uid: false,
  };
  while (cursor.trySp()) {
    if (cursor.peek() === undefined) break;
    if (cursor.peek() === 0x28) {
      cursor.list(() => {
        if (cursor.keyword() !== 'TAG') cursor.fail('Expected TAG');
        cursor.sp();
        result.tag = cursor.astring();
      });
      continue;
    }
    const name = cursor.keyword();
    if (name === 'UID') {
      result.uid = true;
      continue;
    }
    cursor.sp();
    if (name === 'MIN' || name === 'MAX') result[name === 'MIN' ? 'min' : 'max'] = cursor.nzNumber();
    else if (name === 'COUNT') result.count = cursor.number();
    else if (name === 'ALL') result.all = SequenceSet.parse(cursor.word('sequence'));
    else if (name === 'MODSEQ') {
      const modSeq = readNumber64(cursor);
      if (modSeq !== undefined) result.modSeq = modSeq;
    } else readExtensionValue(cursor);
  }
  return { type: 'ESEARCH', ...result };
}

/**
 * Reads a `number64`. Lenient, one beyond 2⁵³−1 (a mod-sequence, which RFC 7162 allows up to 2⁶³−1) is
 * passed over and gives `undefined`, so that only that value is lost.
 */
function readNumber64(cursor: ImapCursor): number | undefined {
  if (!cursor.lenient) return cursor.number64();
  const value = cursor.attempt(() => cursor.number64());
  if (value === undefined) cursor.word();
  return value;
}

function readThread(cursor: ImapCursor): Thread {
  cursor.expect(0x28, '"("');
  return cursor.nested(() => {
    const chain: number[] = [];
    const children: Thread[] = [];
    while (!cursor.tryByte(0x29)) {
      if (children.length > 0 && cursor.lenient) cursor.trySp();
      if (cursor.peek() === 0x28) {
        children.push(readThread(cursor));
        continue;
      }
      if (children.length > 0) cursor.fail('A thread continues after its branches');
      if (chain.length > 0) {
        cursor.sp();
        if (cursor.peek() === 0x28) continue;
      }
      chain.push(cursor.nzNumber());
    }
    if (chain.length === 0 && children.length === 0) cursor.fail('Empty thread');
    return { chain, children };
  });
}

function readId(cursor: ImapCursor): readonly (readonly [string, string | null])[] | null {
  if (cursor.nil()) return null;
  const flat = cursor.list(() => cursor.nstring());
  if (flat.length % 2 !== 0) cursor.fail('Invalid ID parameters');
  const parameters: [string, string | null][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === null) cursor.fail('An ID field name cannot be NIL');
    parameters.push([flat[i]!, flat[i + 1]!]);
  }
  return parameters;
}

function readNamespaces(cursor: ImapCursor): Namespace[] | null {
  if (cursor.nil()) return null;
  const namespaces: Namespace[] = [];
  cursor.expect(0x28, '"("');
  cursor.nested(() => {
    while (!cursor.tryByte(0x29)) {
      if (cursor.lenient) cursor.trySp();
      cursor.expect(0x28, '"("');
      const prefix = cursor.string();
      cursor.sp();
      const delimiter = cursor.nil() ? null : cursor.string();
      const extensions: [string, string[]][] = [];
      while (cursor.trySp()) {
        const extension = cursor.string();
        cursor.sp();
        extensions.push([extension, cursor.list(() => cursor.string())]);
      }
      cursor.expect(0x29, '")"');
      namespaces.push({ prefix, delimiter, ...(extensions.length > 0 && { extensions }) });
    }
  });
  return namespaces;
}

/**
 * Writes a response as the server sends it: ordered output parts, FETCH bodies as literals of their own
 * (streamed from a {@link LiteralSource} without being held). Every value is checked first; texts cannot
 * hold CR, LF or NUL.
 * @throws InvalidArgumentError for a value that cannot be sent.
 */
export function serializeResponse(
  response: ImapResponse,
  writer: ImapWriter = new Writer({ side: 'server' }),
  options: ResponseOptions = {},
): OutputPart[] {
  writeResponse(response, writer, options);
  return writer.finish();
}

/**
 * Writes a response into `writer` and leaves it there, as {@link serializeResponse} does: many responses
 * then go out as one output (a FETCH's batch), taken with {@link ImapWriter.finish}. A response that
 * throws may leave part of itself written: start again with a new writer.
 * @throws InvalidArgumentError for a value that cannot be sent.
 */
export function writeResponse(
  response: ImapResponse,
  writer: ImapWriter,
  options: ResponseOptions = {},
): void {
  const utf8 = options.utf8Accept ?? false;
  const box = (name: string): void => {
    writer.astring(encodeMailboxName(name, utf8));
  };
  switch (response.type) {
    case 'tagged':
      if (!TAG.test(response.tag) || response.tag.includes('+'))
        throw new InvalidArgumentError('invalid tag');
      writer.raw(`${response.tag} ${response.status} `);
      writeText(writer, response.code, response.text);
      break;
    case 'status':
      writer.raw(`* ${response.status} `);
      writeText(writer, response.code, response.text);
      break;
    case 'continuation':
      writer.raw('+ ');
      writeText(writer, response.code, response.text);
      break;
    case 'CAPABILITY':
    case 'ENABLED':
      writer.raw(`* ${response.type}`);
      for (const capability of response.capabilities) writer.sp().atom(capability);
      break;
    case 'LIST':
    case 'LSUB': {
      writer.raw(`* ${response.type} `).list(response.flags, (flag) => writer.atom(flag, '\\'));
      writer.sp();
      if (response.delimiter === null) writer.raw('NIL');
      else if (response.delimiter.length !== 1)
        throw new InvalidArgumentError('a delimiter is one character');
      else writer.string(response.delimiter);
      writer.sp();
      box(response.mailbox);
      const extended: string[] = [];
      if (response.childInfo) extended.push('CHILDINFO');
      if (response.oldName !== undefined) extended.push('OLDNAME');
      if (extended.length > 0)
        writer.sp().list(extended, (tag) => {
          writer.raw(`"${tag}" `);
          if (tag === 'CHILDINFO') writer.list(response.childInfo!, (option) => writer.string(option));
          else writer.list([response.oldName!], box);
        });
      break;
    }
    case 'STATUS': {
      writer.raw('* STATUS ');
      box(response.mailbox);
      const values = response.values as Record<string, number | string | null | undefined>;
      const items = STATUS_ORDER.filter((item) => values[item] !== undefined);
      writer.sp().list(items, (item) => {
        const value = values[item]!;
        writer.raw(`${item} `);
        if (item === 'MAILBOXID') writeObjectId(writer, value as string);
        else if (value === null) writer.raw('NIL');
        else writer.number(value as number, Number.MAX_SAFE_INTEGER);
      });
      break;
    }
    case 'FLAGS':
      writer.raw('* FLAGS ').list(response.flags, (flag) => writer.atom(flag, '\\'));
      break;
    case 'EXISTS':
    case 'RECENT':
    case 'EXPUNGE':
      writer.raw('* ').number(response.number).raw(` ${response.type}`);
      break;
    case 'SEARCH':
    case 'SORT':
      writer.raw(`* ${response.type}`);
      for (const number of response.numbers) {
        if (number < 1) throw new InvalidArgumentError('a message number is at least 1');
        writer.sp().number(number);
      }
      if (response.modSeq !== undefined)
        writer.raw(' (MODSEQ ').number(response.modSeq, Number.MAX_SAFE_INTEGER).raw(')');
      break;
    case 'ESEARCH':
      writer.raw('* ESEARCH');
      if (response.tag !== undefined) writer.raw(' (TAG ').string(response.tag).raw(')');
      if (response.uid) writer.raw(' UID');
      if (response.min !== undefined) writer.raw(' MIN ').number(response.min);
      if (response.max !== undefined) writer.raw(' MAX ').number(response.max);
      if (response.count !== undefined) writer.raw(' COUNT ').number(response.count);
      if (response.all !== undefined) writer.raw(' ALL ').raw(response.all.toString());
      if (response.modSeq !== undefined)
        writer.raw(' MODSEQ ').number(response.modSeq, Number.MAX_SAFE_INTEGER);
      break;
    case 'THREAD':
      writer.raw('* THREAD');
      if (response.threads.length > 0) writer.sp();
      for (const thread of response.threads) writeThread(writer, thread);
      break;
    case 'FETCH':
      if (response.number < 1) throw new InvalidArgumentError('a message number is at least 1');
      writer.raw('* ').number(response.number).raw(' FETCH ');
      writeFetchAttributes(writer, response.attributes);
      break;
    case 'VANISHED':
      writer.raw(`* VANISHED ${response.earlier ? '(EARLIER) ' : ''}${response.uids.toString()}`);
      break;
    case 'ID':
      writer.raw('* ID ');
      if (response.parameters === null) writer.raw('NIL');
      else writer.list(response.parameters, ([field, value]) => writer.string(field).sp().nstring(value));
      break;
    case 'NAMESPACE':
      writer.raw('* NAMESPACE');
      for (const namespaces of [response.personal, response.other, response.shared]) {
        writer.sp();
        if (namespaces === null) writer.raw('NIL');
        else writeNamespaces(writer, namespaces);
      }
      break;
    case 'QUOTA':
      writer.raw('* QUOTA ').astring(response.root).sp();
      writer.list(response.resources, ({ name, usage, limit }) =>
        writer
          .atom(name)
          .sp()
          .number(usage, Number.MAX_SAFE_INTEGER)
          .sp()
          .number(limit, Number.MAX_SAFE_INTEGER),
      );
      break;
    case 'QUOTAROOT':
      writer.raw('* QUOTAROOT ');
      box(response.mailbox);
      for (const root of response.roots) writer.sp().astring(root);
      break;
    case 'OTHER':
      writer.raw('* ');
      if (response.number !== undefined) writer.number(response.number).sp();
      writer.atom(response.name);
      if (response.text !== '') writeLineEnd(writer.sp(), response.text);
      break;
  }
  writer.crlf();
}

function writeText(writer: ImapWriter, code: ResponseCode | undefined, text: string): void {
  if (code) writeResponseCode(writer, code);
  else if (text.startsWith('['))
    throw new InvalidArgumentError('a text without a code cannot start with "["');
  writeLineEnd(writer, text);
}

/** Writes the text that ends a line, refusing one that would read as a literal's announcement. */
function writeLineEnd(writer: ImapWriter, text: string): void {
  if (LITERAL_END.test(text)) throw new InvalidArgumentError('a text cannot end like a literal announcement');
  writer.raw(text);
}

/** Writes a thread and its nested threads, without recursion: a thread may nest as deep as the mailbox is long. */
function writeThread(writer: ImapWriter, root: Thread): void {
  const pending: (Thread | typeof CLOSE_THREAD)[] = [root];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item === CLOSE_THREAD) {
      writer.raw(')');
      continue;
    }
    const { chain, children } = item;
    if (chain.length === 0 && children.length === 0) throw new InvalidArgumentError('empty thread');
    writer.raw('(');
    chain.forEach((number, index) => {
      if (number < 1) throw new InvalidArgumentError('a message number is at least 1');
      if (index > 0) writer.sp();
      writer.number(number);
    });
    if (chain.length > 0 && children.length > 0) writer.sp();
    pending.push(CLOSE_THREAD);
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!);
  }
}

const CLOSE_THREAD = Symbol('close thread');

function writeNamespaces(writer: ImapWriter, namespaces: readonly Namespace[]): void {
  writer.raw('(');
  for (const namespace of namespaces) {
    writer.raw('(').string(namespace.prefix).sp();
    if (namespace.delimiter === null) writer.raw('NIL');
    else writer.string(namespace.delimiter);
    for (const [name, values] of namespace.extensions ?? []) {
      writer
        .sp()
        .string(name)
        .sp()
        .list(values, (value) => writer.string(value));
    }
    writer.raw(')');
  }
  writer.raw(')');
}
