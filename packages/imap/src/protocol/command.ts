import { InvalidArgumentError } from '@postwire/core';
import { ImapCursor } from './cursor.js';
import { type FetchItem, readFetchItems, writeFetchItems } from './fetch-item.js';
import { decodeMailboxName, encodeMailboxName } from './mailbox-name.js';
import type { Fragment, StreamedFragment } from './reader.js';
import { readSearchKeys, type SearchKey, writeSearchKeys } from './search-key.js';
import { SequenceSet } from './sequence-set.js';
import { type ImapWriter, type LiteralSource, type OutputPart, ImapWriter as Writer } from './writer.js';

/** STATUS items (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT). */
export type StatusItem =
  | 'MESSAGES'
  | 'RECENT'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT'
  | 'MAILBOXID';

/** ESEARCH `RETURN` options (RFC 4731, RFC 5182 SAVE). */
export type SearchReturn = 'MIN' | 'MAX' | 'COUNT' | 'ALL' | 'SAVE';

/** One message of APPEND: its content is held bytes, a streamed literal (server side) or a source to stream (client side). */
export interface AppendMessage {
  /** The flags to set on the appended message. */
  readonly flags?: readonly string[];
  /** The INTERNALDATE as written (`"17-Jul-1996 02:44:25 -0700"` without quotes). */
  readonly date?: string;
  /** The message itself, sent as a literal. */
  readonly content: Uint8Array | StreamedFragment | LiteralSource;
  /** Sent as literal8 (`UTF8 (~{n})` is not used; BINARY's `~{n}`). */
  readonly binary?: boolean;
}

/** QRESYNC parameters of SELECT/EXAMINE (RFC 7162 §3.2.5). */
export interface QresyncParameters {
  /** The last known UIDVALIDITY of the mailbox. */
  readonly uidValidity: number;
  /** The last known mod-sequence of the mailbox. */
  readonly modSeq: number;
  /** The UIDs the client knows, when given. */
  readonly knownUids?: SequenceSet;
  /** Message numbers and the UIDs they had, for the server to find the first change (RFC 7162 §3.2.5.2). */
  readonly sequenceMatch?: {
    /** The known message sequence numbers. */
    readonly sequences: SequenceSet;
    /** The UIDs of those messages, in the same order. */
    readonly uids: SequenceSet;
  };
}

/** LIST's RETURN options (RFC 5258, RFC 5819 STATUS, RFC 6154 SPECIAL-USE). */
export interface ListReturn {
  /** `SUBSCRIBED`: return the `\Subscribed` attribute. */
  readonly subscribed?: boolean;
  /** `CHILDREN`: return `\HasChildren` or `\HasNoChildren`. */
  readonly children?: boolean;
  /** `SPECIAL-USE`: return the special-use attributes (RFC 6154). */
  readonly specialUse?: boolean;
  /** `STATUS`: the STATUS items to return for each mailbox (RFC 5819). */
  readonly status?: readonly StatusItem[];
}

/** A command without its tag. Mailbox names are decoded text. */
export type ImapCommandBody =
  | {
      /** The command's name. */
      readonly name:
        | 'CAPABILITY'
        | 'NOOP'
        | 'LOGOUT'
        | 'STARTTLS'
        | 'CHECK'
        | 'CLOSE'
        | 'UNSELECT'
        | 'IDLE'
        | 'NAMESPACE'
        | 'UNAUTHENTICATE';
    }
  /** `initialResponse` is the base64 of SASL-IR, `''` for `=`. */
  | {
      /** The command's name. */
      readonly name: 'AUTHENTICATE';
      /** The SASL mechanism, upper-cased. */
      readonly mechanism: string;
      /** The initial response (RFC 4959 SASL-IR), when given. */
      readonly initialResponse?: string;
    }
  | {
      /** The command's name. */
      readonly name: 'LOGIN';
      /** The user name. */
      readonly username: string;
      /** The password. */
      readonly password: string;
    }
  | {
      /** The command's name. */
      readonly name: 'ENABLE';
      /** The capabilities to enable (RFC 5161). */
      readonly capabilities: readonly string[];
    }
  | {
      /** The command's name. */
      readonly name: 'ID';
      /** The field-value pairs (RFC 2971), or `null` for `NIL`. */
      readonly parameters: readonly (readonly [string, string | null])[] | null;
    }
  | {
      /** The command's name. */
      readonly name: 'SELECT' | 'EXAMINE';
      /** The mailbox to open. */
      readonly mailbox: string;
      /** The CONDSTORE parameter was given (RFC 7162 §3.1.8). */
      readonly condstore?: boolean;
      /** The QRESYNC parameter, when given (RFC 7162 §3.2.5). */
      readonly qresync?: QresyncParameters;
    }
  | {
      /** The command's name. */
      readonly name: 'CREATE';
      /** The mailbox to create. */
      readonly mailbox: string;
      /** The special-use attributes of `USE` (RFC 6154 §3), when given. */
      readonly specialUse?: readonly string[];
    }
  | {
      /** The command's name. */
      readonly name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE';
      /** The mailbox. */
      readonly mailbox: string;
    }
  | {
      /** The command's name. */
      readonly name: 'RENAME';
      /** The mailbox to rename. */
      readonly mailbox: string;
      /** Its new name. */
      readonly newName: string;
    }
  | {
      /** The command's name. */
      readonly name: 'LIST';
      /** The reference name. */
      readonly reference: string;
      /** The mailbox patterns, with `*` and `%` wildcards (several with RFC 5258). */
      readonly patterns: readonly string[];
      /** The selection options (RFC 5258 §3.1), when given. */
      readonly selection?: readonly string[];
      /** The RETURN options, when given. */
      readonly return?: ListReturn;
    }
  | {
      /** The command's name. */
      readonly name: 'LSUB';
      /** The reference name. */
      readonly reference: string;
      /** The mailbox pattern, with `*` and `%` wildcards. */
      readonly pattern: string;
    }
  | {
      /** The command's name. */
      readonly name: 'STATUS';
      /** The mailbox. */
      readonly mailbox: string;
      /** The STATUS items requested. */
      readonly items: readonly StatusItem[];
    }
  | {
      /** The command's name. */
      readonly name: 'APPEND';
      /** The mailbox to append to. */
      readonly mailbox: string;
      /** The messages, more than one with MULTIAPPEND (RFC 3502). */
      readonly messages: readonly AppendMessage[];
    }
  | {
      /** The command's name. */
      readonly name: 'EXPUNGE';
      /** The UIDs of UID EXPUNGE (RFC 9051 §6.4.9); without it, a plain EXPUNGE. */
      readonly uids?: SequenceSet;
    }
  | {
      /** The command's name. */
      readonly name: 'SEARCH';
      /** The UID form of the command: results are UIDs. */
      readonly uid: boolean;
      /** The CHARSET, when given. */
      readonly charset?: string;
      /** The ESEARCH RETURN options (RFC 4731), when given. */
      readonly return?: readonly SearchReturn[];
      /** The search keys, all of which must match. */
      readonly criteria: readonly SearchKey[];
    }
  | {
      /** The command's name. */
      readonly name: 'SORT';
      /** The UID form of the command: results are UIDs. */
      readonly uid: boolean;
      /** The sort keys (RFC 5256), each optionally prefixed with `REVERSE `. */
      readonly criteria: readonly string[];
      /** The search charset. */
      readonly charset: string;
      /** The search keys that select the messages to sort. */
      readonly search: readonly SearchKey[];
    }
  | {
      /** The command's name. */
      readonly name: 'THREAD';
      /** The UID form of the command: results are UIDs. */
      readonly uid: boolean;
      /** The threading algorithm (RFC 5256), such as `ORDEREDSUBJECT` or `REFERENCES`. */
      readonly algorithm: string;
      /** The search charset. */
      readonly charset: string;
      /** The search keys that select the messages to thread. */
      readonly search: readonly SearchKey[];
    }
  | {
      /** The command's name. */
      readonly name: 'FETCH';
      /** The UID form of the command: the sequence set holds UIDs. */
      readonly uid: boolean;
      /** The messages to fetch. */
      readonly sequence: SequenceSet;
      /** The data items to fetch. */
      readonly items: readonly FetchItem[];
      /** The CHANGEDSINCE modifier's mod-sequence (RFC 7162 §3.1.4), when given. */
      readonly changedSince?: number;
      /** The VANISHED modifier was given (RFC 7162 §3.2.6; UID FETCH only). */
      readonly vanished?: boolean;
    }
  | {
      /** The command's name. */
      readonly name: 'STORE';
      /** The UID form of the command: the sequence set holds UIDs. */
      readonly uid: boolean;
      /** The messages to change. */
      readonly sequence: SequenceSet;
      /** `FLAGS` (set), `+FLAGS` (add) or `-FLAGS` (remove). */
      readonly operation: 'set' | 'add' | 'remove';
      /** The `.SILENT` form: no untagged FETCH in reply. */
      readonly silent: boolean;
      /** The flags. */
      readonly flags: readonly string[];
      /** The UNCHANGEDSINCE modifier's mod-sequence (RFC 7162 §3.1.3), when given. */
      readonly unchangedSince?: number;
    }
  | {
      /** The command's name. */
      readonly name: 'COPY' | 'MOVE';
      /** The UID form of the command: the sequence set holds UIDs. */
      readonly uid: boolean;
      /** The messages to copy or move. */
      readonly sequence: SequenceSet;
      /** The destination mailbox. */
      readonly mailbox: string;
    }
  | {
      /** The command's name. */
      readonly name: 'COMPRESS';
      /** The compression mechanism (RFC 4978), such as `DEFLATE`. */
      readonly mechanism: string;
    }
  | {
      /** The command's name. */
      readonly name: 'GETQUOTA';
      /** The quota root (RFC 9208). */
      readonly root: string;
    }
  | {
      /** The command's name. */
      readonly name: 'GETQUOTAROOT';
      /** The mailbox whose quota roots are asked for. */
      readonly mailbox: string;
    }
  | {
      /** The command's name. */
      readonly name: 'SETQUOTA';
      /** The quota root (RFC 9208). */
      readonly root: string;
      /** The resource limits to set. */
      readonly limits: readonly {
        /** The resource name, such as `STORAGE` or `MESSAGE`. */
        readonly resource: string;
        /** The limit, in the resource's units (KiB for `STORAGE`). */
        readonly limit: number;
      }[];
    };

/** A tagged command. */
export type ImapCommand = ImapCommandBody & {
  /** The command's tag, echoed in its tagged response. */
  readonly tag: string;
};

/** Options of {@link parseCommand} and {@link serializeCommand}. */
export interface CommandOptions {
  /** UTF8=ACCEPT is enabled: mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8Accept?: boolean;
  /** Nesting allowed in lists and search keys; default 100. */
  readonly maxDepth?: number;
}

const NO_ARGUMENTS = new Set([
  'CAPABILITY',
  'NOOP',
  'LOGOUT',
  'STARTTLS',
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'IDLE',
  'NAMESPACE',
  'UNAUTHENTICATE',
]);
const WITH_ARGUMENTS = new Set([
  'AUTHENTICATE',
  'LOGIN',
  'ENABLE',
  'ID',
  'SELECT',
  'EXAMINE',
  'CREATE',
  'DELETE',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'RENAME',
  'LIST',
  'LSUB',
  'STATUS',
  'APPEND',
  'EXPUNGE',
  'SEARCH',
  'SORT',
  'THREAD',
  'FETCH',
  'STORE',
  'COPY',
  'MOVE',
  'COMPRESS',
  'GETQUOTA',
  'GETQUOTAROOT',
  'SETQUOTA',
]);
const STATUS_ITEMS = new Set<string>([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
  'MAILBOXID',
]);
const SEARCH_RETURN = new Set<string>(['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE']);
const SORT_KEYS = /^(?:REVERSE )?(?:ARRIVAL|CC|DATE|FROM|SIZE|SUBJECT|TO|DISPLAYFROM|DISPLAYTO)$/;
const TAG = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5e-\x7a\x7c-\x7e]+$/;

/**
 * Parses one framed command (from an {@link ImapReader} on the server side).
 * @throws ImapSyntaxError with the tag (when readable) and the text for `BAD`.
 */
export function parseCommand(fragments: readonly Fragment[], options: CommandOptions = {}): ImapCommand {
  const cursor = new ImapCursor(fragments, { maxDepth: options.maxDepth ?? 100 });
  const tag = cursor.word('astring');
  if (!TAG.test(tag)) cursor.fail('Invalid tag');
  cursor.tag = tag;
  cursor.sp();
  const body = readBody(cursor, options.utf8Accept ?? false);
  cursor.end();
  return { tag, ...body };
}

function readBody(cursor: ImapCursor, utf8: boolean): ImapCommandBody {
  let name = cursor.keyword();
  let uid = false;
  if (name === 'UID') {
    uid = true;
    cursor.sp();
    name = cursor.keyword();
    if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'SORT', 'THREAD', 'EXPUNGE'].includes(name))
      cursor.fail(`UID ${name.slice(0, 20)} is not a command`);
  }
  const mailbox = (): string => decodeMailboxName(cursor.astring(), utf8, cursor.tag);
  const sequence = (): SequenceSet => SequenceSet.parse(cursor.word('sequence'), cursor.tag);
  if (NO_ARGUMENTS.has(name) || (name === 'EXPUNGE' && !uid)) return { name } as ImapCommandBody;
  if (!WITH_ARGUMENTS.has(name)) cursor.fail(`Unknown command ${name.slice(0, 20)}`);
  cursor.sp();
  switch (name) {
    case 'AUTHENTICATE': {
      const mechanism = cursor.keyword();
      if (!cursor.trySp()) return { name, mechanism };
      const response = cursor.word('astring');
      if (response !== '=' && !/^[A-Za-z0-9+/]+={0,2}$/.test(response))
        cursor.fail('Invalid initial response');
      return { name, mechanism, initialResponse: response === '=' ? '' : response };
    }
    case 'LOGIN': {
      const username = cursor.astring();
      cursor.sp();
      return { name, username, password: cursor.astring() };
    }
    case 'ENABLE': {
      const capabilities = [cursor.keyword()];
      while (cursor.trySp()) capabilities.push(cursor.keyword());
      return { name, capabilities };
    }
    case 'ID': {
      if (cursor.nil()) return { name, parameters: null };
      const flat = cursor.list(() => cursor.nstring());
      if (flat.length % 2 !== 0 || flat.length > 60) cursor.fail('Invalid ID parameters');
      const parameters: [string, string | null][] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i] === null) cursor.fail('An ID field name cannot be NIL');
        parameters.push([flat[i]!, flat[i + 1]!]);
      }
      return { name, parameters };
    }
    case 'SELECT':
    case 'EXAMINE': {
      const box = mailbox();
      if (!cursor.trySp()) return { name, mailbox: box };
      let condstore = false;
      let qresync: QresyncParameters | undefined;
      cursor.list(() => {
        const parameter = cursor.keyword();
        if (parameter === 'CONDSTORE') condstore = true;
        else if (parameter === 'QRESYNC') {
          cursor.sp();
          qresync = readQresync(cursor);
        } else cursor.fail(`Unknown SELECT parameter ${parameter.slice(0, 20)}`);
      });
      return {
        name,
        mailbox: box,
        ...(condstore ? { condstore } : {}),
        ...(qresync !== undefined ? { qresync } : {}),
      };
    }
    case 'CREATE': {
      const box = mailbox();
      if (!cursor.trySp()) return { name, mailbox: box };
      let specialUse: string[] = [];
      cursor.list(() => {
        if (cursor.keyword() !== 'USE') cursor.fail('Unknown CREATE parameter');
        cursor.sp();
        specialUse = cursor.list(() => cursor.word('flag'));
      });
      return { name, mailbox: box, specialUse };
    }
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      return { name, mailbox: mailbox() };
    case 'RENAME': {
      const from = mailbox();
      cursor.sp();
      return { name, mailbox: from, newName: mailbox() };
    }
    case 'LIST':
      return readList(cursor, utf8);
    case 'LSUB': {
      const reference = decodeMailboxName(cursor.astring(), utf8, cursor.tag);
      cursor.sp();
      return {
        name,
        reference,
        pattern: decodeMailboxName(cursor.astring('list-mailbox'), utf8, cursor.tag),
      };
    }
    case 'STATUS': {
      const box = mailbox();
      cursor.sp();
      return { name, mailbox: box, items: readStatusItems(cursor) };
    }
    case 'APPEND': {
      const box = mailbox();
      const messages: AppendMessage[] = [];
      while (cursor.trySp()) messages.push(readAppendMessage(cursor));
      if (messages.length === 0) cursor.fail('APPEND needs a message');
      return { name, mailbox: box, messages };
    }
    case 'EXPUNGE':
      return { name, uids: sequence() };
    case 'SEARCH': {
      let returns: SearchReturn[] | undefined;
      if (cursor.tryKeyword('RETURN')) {
        cursor.sp();
        returns = cursor.list(() => {
          const option = cursor.keyword();
          if (!SEARCH_RETURN.has(option)) cursor.fail(`Unknown RETURN option ${option.slice(0, 20)}`);
          return option as SearchReturn;
        });
        cursor.sp();
      }
      let charset: string | undefined;
      if (cursor.tryKeyword('CHARSET')) {
        cursor.sp();
        charset = cursor.astring();
        cursor.sp();
      }
      const criteria = readSearchKeys(cursor);
      return {
        name,
        uid,
        ...(charset !== undefined && { charset }),
        ...(returns && { return: returns }),
        criteria,
      };
    }
    case 'SORT': {
      const criteria = cursor.list(() => {
        const key = cursor.keyword();
        if (key === 'REVERSE') {
          cursor.sp();
          return `REVERSE ${cursor.keyword()}`;
        }
        return key;
      });
      if (criteria.length === 0 || !criteria.every((key) => SORT_KEYS.test(key)))
        cursor.fail('Invalid sort criteria');
      cursor.sp();
      const charset = cursor.astring();
      cursor.sp();
      return { name, uid, criteria, charset, search: readSearchKeys(cursor) };
    }
    case 'THREAD': {
      const algorithm = cursor.keyword();
      cursor.sp();
      const charset = cursor.astring();
      cursor.sp();
      return { name, uid, algorithm, charset, search: readSearchKeys(cursor) };
    }
    case 'FETCH': {
      const set = sequence();
      cursor.sp();
      const items = readFetchItems(cursor);
      let changedSince: number | undefined;
      let vanished = false;
      if (cursor.trySp()) {
        cursor.list(() => {
          const modifier = cursor.keyword();
          if (modifier === 'CHANGEDSINCE') {
            cursor.sp();
            changedSince = cursor.number64();
          } else if (modifier === 'VANISHED' && uid) vanished = true;
          else cursor.fail(`Unknown FETCH modifier ${modifier.slice(0, 20)}`);
        });
        if (vanished && changedSince === undefined) cursor.fail('VANISHED needs CHANGEDSINCE');
      }
      return {
        name,
        uid,
        sequence: set,
        items,
        ...(changedSince !== undefined && { changedSince }),
        ...(vanished ? { vanished } : {}),
      };
    }
    case 'STORE':
      return readStore(cursor, uid, sequence());
    case 'COPY':
    case 'MOVE': {
      const set = sequence();
      cursor.sp();
      return { name, uid, sequence: set, mailbox: mailbox() };
    }
    case 'COMPRESS':
      return { name, mechanism: cursor.keyword() };
    case 'GETQUOTA':
      return { name, root: cursor.astring() };
    case 'GETQUOTAROOT':
      return { name, mailbox: mailbox() };
    default:
      return readSetQuota(cursor);
  }
}

function readSetQuota(cursor: ImapCursor): ImapCommandBody {
  const root = cursor.astring();
  cursor.sp();
  const limits = cursor.list(() => {
    const resource = cursor.keyword();
    cursor.sp();
    return { resource, limit: cursor.number64() };
  });
  return { name: 'SETQUOTA', root, limits };
}

function readQresync(cursor: ImapCursor): QresyncParameters {
  cursor.expect(0x28, '"("');
  const uidValidity = cursor.nzNumber();
  cursor.sp();
  const modSeq = cursor.number64();
  let knownUids: SequenceSet | undefined;
  let sequenceMatch: QresyncParameters['sequenceMatch'];
  if (cursor.trySp() && cursor.peek() !== 0x28) {
    knownUids = SequenceSet.parse(cursor.word('sequence'), cursor.tag);
    cursor.trySp();
  }
  if (cursor.peek() === 0x28) {
    cursor.expect(0x28, '"("');
    const sequences = SequenceSet.parse(cursor.word('sequence'), cursor.tag);
    cursor.sp();
    const uids = SequenceSet.parse(cursor.word('sequence'), cursor.tag);
    cursor.expect(0x29, '")"');
    sequenceMatch = { sequences, uids };
  }
  cursor.expect(0x29, '")"');
  return {
    uidValidity,
    modSeq,
    ...(knownUids ? { knownUids } : {}),
    ...(sequenceMatch ? { sequenceMatch } : {}),
  };
}

function readStatusItems(cursor: ImapCursor): StatusItem[] {
  return cursor.list(() => {
    const item = cursor.keyword();
    if (!STATUS_ITEMS.has(item)) cursor.fail(`Unknown STATUS item ${item.slice(0, 20)}`);
    return item as StatusItem;
  });
}

function readList(cursor: ImapCursor, utf8: boolean): ImapCommandBody {
  let selection: string[] | undefined;
  if (cursor.peek() === 0x28) {
    selection = cursor.list(() => cursor.keyword());
    cursor.sp();
  }
  const reference = decodeMailboxName(cursor.astring(), utf8, cursor.tag);
  cursor.sp();
  const pattern = (): string => decodeMailboxName(cursor.astring('list-mailbox'), utf8, cursor.tag);
  const patterns = cursor.peek() === 0x28 ? cursor.list(pattern) : [pattern()];
  let returns: ListReturn | undefined;
  if (cursor.trySp()) {
    if (cursor.keyword() !== 'RETURN') cursor.fail('Expected RETURN');
    cursor.sp();
    const options: { subscribed?: boolean; children?: boolean; specialUse?: boolean; status?: StatusItem[] } =
      {};
    cursor.list(() => {
      const option = cursor.keyword();
      if (option === 'SUBSCRIBED') options.subscribed = true;
      else if (option === 'CHILDREN') options.children = true;
      else if (option === 'SPECIAL-USE') options.specialUse = true;
      else if (option === 'STATUS') {
        cursor.sp();
        options.status = readStatusItems(cursor);
      } else cursor.fail(`Unknown LIST RETURN option ${option.slice(0, 20)}`);
    });
    returns = options;
  }
  return {
    name: 'LIST',
    reference,
    patterns,
    ...(selection && { selection }),
    ...(returns && { return: returns }),
  };
}

function readAppendMessage(cursor: ImapCursor): AppendMessage {
  let flags: string[] | undefined;
  let date: string | undefined;
  if (cursor.peek() === 0x28) {
    flags = cursor.list(() => cursor.word('flag'));
    cursor.sp();
  }
  if (cursor.peek() === 0x22) {
    date = cursor.string();
    if (!/^[ \d]\d-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/.test(date))
      cursor.fail('Invalid date-time');
    cursor.sp();
  }
  const binary = cursor.peek() === 0x7e;
  const content = cursor.stringValue();
  return { ...(flags && { flags }), ...(date !== undefined && { date }), content, ...(binary && { binary }) };
}

function readStore(cursor: ImapCursor, uid: boolean, sequence: SequenceSet): ImapCommandBody {
  cursor.sp();
  let unchangedSince: number | undefined;
  if (cursor.peek() === 0x28) {
    cursor.list(() => {
      if (cursor.keyword() !== 'UNCHANGEDSINCE') cursor.fail('Unknown STORE modifier');
      cursor.sp();
      unchangedSince = cursor.number64();
    });
    cursor.sp();
  }
  const match = /^([+-]?)FLAGS(\.SILENT)?$/.exec(cursor.until(' ').toUpperCase());
  if (!match) return cursor.fail('Expected FLAGS, +FLAGS or -FLAGS');
  cursor.sp();
  const flags = cursor.peek() === 0x28 ? cursor.list(() => cursor.word('flag')) : readFlagWords(cursor);
  const operation = match[1] === '+' ? 'add' : match[1] === '-' ? 'remove' : 'set';
  return {
    name: 'STORE',
    uid,
    sequence,
    operation,
    silent: match[2] !== undefined,
    flags,
    ...(unchangedSince !== undefined && { unchangedSince }),
  };
}

function readFlagWords(cursor: ImapCursor): string[] {
  const flags = [cursor.word('flag')];
  while (cursor.trySp()) flags.push(cursor.word('flag'));
  return flags;
}

/**
 * Writes a command as the client sends it: ordered output parts, with a wait for `+` after each
 * synchronising literal (see {@link ImapWriter}). Every value is checked first.
 * @throws InvalidArgumentError for a value that cannot be sent.
 */
export function serializeCommand(
  command: ImapCommand,
  writer: ImapWriter = new Writer({ side: 'client' }),
  options: CommandOptions = {},
): OutputPart[] {
  if (!TAG.test(command.tag) || command.tag.includes('+')) throw new InvalidArgumentError('invalid tag');
  const utf8 = options.utf8Accept ?? false;
  const box = (name: string): void => {
    writer.astring(encodeMailboxName(name, utf8));
  };
  const pattern = (name: string): void => {
    writer.astring(encodeMailboxName(name, utf8), ']%*');
  };
  writer.raw(command.tag).sp();
  if (('uid' in command && command.uid) || (command.name === 'EXPUNGE' && command.uids)) writer.raw('UID ');
  writer.raw(command.name);
  switch (command.name) {
    case 'AUTHENTICATE':
      writer.sp().atom(command.mechanism);
      if (command.initialResponse !== undefined) {
        if (command.initialResponse !== '' && !/^[A-Za-z0-9+/]+={0,2}$/.test(command.initialResponse))
          throw new InvalidArgumentError('the initial response must be base64');
        writer.sp().raw(command.initialResponse === '' ? '=' : command.initialResponse);
      }
      break;
    case 'LOGIN':
      writer.sp().astring(command.username).sp().astring(command.password);
      break;
    case 'ENABLE':
      for (const capability of command.capabilities) writer.sp().atom(capability);
      break;
    case 'ID':
      writer.sp();
      if (command.parameters === null) writer.raw('NIL');
      else writer.list(command.parameters, ([field, value]) => writer.string(field).sp().nstring(value));
      break;
    case 'SELECT':
    case 'EXAMINE': {
      writer.sp();
      box(command.mailbox);
      const parameters: string[] = [];
      if (command.condstore) parameters.push('CONDSTORE');
      if (command.qresync) parameters.push(`QRESYNC ${formatQresync(command.qresync)}`);
      if (parameters.length > 0) writer.sp().raw(`(${parameters.join(' ')})`);
      break;
    }
    case 'CREATE':
      writer.sp();
      box(command.mailbox);
      if (command.specialUse && command.specialUse.length > 0) {
        writer.raw(' (USE ');
        writer.list(command.specialUse, (use) => writer.atom(use, '\\'));
        writer.raw(')');
      }
      break;
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
    case 'GETQUOTAROOT':
      writer.sp();
      box(command.mailbox);
      break;
    case 'RENAME':
      writer.sp();
      box(command.mailbox);
      writer.sp();
      box(command.newName);
      break;
    case 'LIST':
      writer.sp();
      if (command.selection && command.selection.length > 0) {
        writer.list(command.selection, (option) => writer.atom(option));
        writer.sp();
      }
      writer.string(encodeMailboxName(command.reference, utf8)).sp();
      if (command.patterns.length === 1) pattern(command.patterns[0]!);
      else writer.list(command.patterns, pattern);
      if (command.return) writeListReturn(writer, command.return);
      break;
    case 'LSUB':
      writer.sp().string(encodeMailboxName(command.reference, utf8)).sp();
      pattern(command.pattern);
      break;
    case 'STATUS':
      writer.sp();
      box(command.mailbox);
      writer.sp().list(command.items, (item) => writer.atom(item));
      break;
    case 'APPEND':
      writer.sp();
      box(command.mailbox);
      if (command.messages.length === 0) throw new InvalidArgumentError('APPEND needs a message');
      for (const message of command.messages) writeAppendMessage(writer, message);
      break;
    case 'EXPUNGE':
      if (command.uids) writer.sp().raw(command.uids.toString());
      break;
    case 'SEARCH':
      if (command.return) writer.raw(' RETURN ').list(command.return, (option) => writer.atom(option));
      if (command.charset !== undefined) writer.raw(' CHARSET ').astring(command.charset);
      writer.sp();
      writeSearchKeys(writer, command.criteria);
      break;
    case 'SORT':
      for (const key of command.criteria)
        if (!SORT_KEYS.test(key)) throw new InvalidArgumentError(`not a sort key: ${key}`);
      writer.sp().list(command.criteria, (key) => writer.raw(key));
      writer.sp().astring(command.charset).sp();
      writeSearchKeys(writer, command.search);
      break;
    case 'THREAD':
      writer.sp().atom(command.algorithm).sp().astring(command.charset).sp();
      writeSearchKeys(writer, command.search);
      break;
    case 'FETCH': {
      writer.sp().raw(command.sequence.toString()).sp();
      writeFetchItems(writer, command.items);
      const modifiers: string[] = [];
      if (command.changedSince !== undefined) modifiers.push(`CHANGEDSINCE ${modSeq(command.changedSince)}`);
      if (command.vanished) modifiers.push('VANISHED');
      if (modifiers.length > 0) writer.sp().raw(`(${modifiers.join(' ')})`);
      break;
    }
    case 'STORE': {
      writer.sp().raw(command.sequence.toString()).sp();
      if (command.unchangedSince !== undefined)
        writer.raw(`(UNCHANGEDSINCE ${modSeq(command.unchangedSince)}) `);
      const prefix = command.operation === 'add' ? '+' : command.operation === 'remove' ? '-' : '';
      writer.raw(`${prefix}FLAGS${command.silent ? '.SILENT' : ''} `);
      writer.list(command.flags, (flag) => writer.atom(flag, '\\'));
      break;
    }
    case 'COPY':
    case 'MOVE':
      writer.sp().raw(command.sequence.toString()).sp();
      box(command.mailbox);
      break;
    case 'COMPRESS':
      writer.sp().atom(command.mechanism);
      break;
    case 'GETQUOTA':
      writer.sp().astring(command.root);
      break;
    case 'SETQUOTA':
      writer.sp().astring(command.root).sp();
      writer.list(command.limits, ({ resource, limit }) =>
        writer.atom(resource).sp().number(limit, Number.MAX_SAFE_INTEGER),
      );
      break;
  }
  writer.crlf();
  return writer.finish();
}

function modSeq(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError('invalid mod-sequence');
  return String(value);
}

function formatQresync(q: QresyncParameters): string {
  if (!Number.isInteger(q.uidValidity) || q.uidValidity < 1 || q.uidValidity > 4_294_967_295)
    throw new InvalidArgumentError('invalid UIDVALIDITY');
  let text = `(${q.uidValidity} ${modSeq(q.modSeq)}`;
  if (q.knownUids) text += ` ${q.knownUids.toString()}`;
  if (q.sequenceMatch)
    text += ` (${q.sequenceMatch.sequences.toString()} ${q.sequenceMatch.uids.toString()})`;
  return `${text})`;
}

function writeListReturn(writer: ImapWriter, options: ListReturn): void {
  const parts: string[] = [];
  if (options.subscribed) parts.push('SUBSCRIBED');
  if (options.children) parts.push('CHILDREN');
  if (options.specialUse) parts.push('SPECIAL-USE');
  if (options.status) {
    for (const item of options.status)
      if (!STATUS_ITEMS.has(item)) throw new InvalidArgumentError(`not a STATUS item: ${item}`);
    parts.push(`STATUS (${options.status.join(' ')})`);
  }
  writer.raw(` RETURN (${parts.join(' ')})`);
}

function writeAppendMessage(writer: ImapWriter, message: AppendMessage): void {
  writer.sp();
  if (message.flags) writer.list(message.flags, (flag) => writer.atom(flag, '\\')).sp();
  if (message.date !== undefined) {
    if (!/^[ \d]\d-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/.test(message.date))
      throw new InvalidArgumentError('not an IMAP date-time');
    writer.raw(`"${message.date}"`).sp();
  }
  const content = message.content;
  if (content instanceof Uint8Array) writer.literal(content, message.binary ?? false);
  else if ('chunks' in content) writer.streamedLiteral(content, message.binary ?? false);
  else throw new InvalidArgumentError('a streamed fragment cannot be sent; pass a LiteralSource');
}
