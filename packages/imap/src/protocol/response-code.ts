import { decodeUtf8, InvalidArgumentError } from '@postwire/core';
import type { ImapCursor } from './cursor.js';
import { SequenceSet } from './sequence-set.js';
import type { ImapWriter } from './writer.js';

/** Response codes without arguments (RFC 9051 §7.1, RFC 5530, RFC 4315, RFC 7162, RFC 3516, RFC 6154). */
export type SimpleResponseCodeName =
  | 'ALERT'
  | 'PARSE'
  | 'READ-ONLY'
  | 'READ-WRITE'
  | 'TRYCREATE'
  | 'UIDNOTSTICKY'
  | 'NOMODSEQ'
  | 'CLOSED'
  | 'TOOBIG'
  | 'LIMIT'
  | 'ALREADYEXISTS'
  | 'NONEXISTENT'
  | 'INUSE'
  | 'OVERQUOTA'
  | 'CANNOT'
  | 'NOPERM'
  | 'AUTHENTICATIONFAILED'
  | 'AUTHORIZATIONFAILED'
  | 'EXPIRED'
  | 'PRIVACYREQUIRED'
  | 'CONTACTADMIN'
  | 'SERVERBUG'
  | 'CLIENTBUG'
  | 'UNAVAILABLE'
  | 'EXPUNGEISSUED'
  | 'CORRUPTION'
  | 'HASCHILDREN'
  | 'NOTSAVED'
  | 'UNKNOWN-CTE'
  | 'USEATTR'
  | 'COMPRESSIONACTIVE';

/** The response code in brackets at the start of a status response's text. */
export type ResponseCode =
  | {
      /** The code's name. */
      readonly code: SimpleResponseCodeName;
    }
  | {
      /** The code's name. */
      readonly code: 'BADCHARSET';
      /** The charsets the server supports, when listed. */
      readonly charsets: readonly string[];
    }
  | {
      /** The code's name. */
      readonly code: 'CAPABILITY';
      /** The server's capabilities. */
      readonly capabilities: readonly string[];
    }
  | {
      /** The code's name. */
      readonly code: 'PERMANENTFLAGS';
      /** The flags the client can change permanently (`\*`: new keywords too). */
      readonly flags: readonly string[];
    }
  | {
      /** The code's name. */
      readonly code: 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN';
      /** The next UID, the UIDVALIDITY, or the number of the first unseen message. */
      readonly value: number;
    }
  /** RFC 4315: the UIDs given to the appended messages (a set under MULTIAPPEND). */
  | {
      /** The code's name. */
      readonly code: 'APPENDUID';
      /** The UIDVALIDITY of the destination mailbox. */
      readonly uidValidity: number;
      /** The UIDs of the appended messages. */
      readonly uids: SequenceSet;
    }
  /** RFC 4315: the source UIDs and, in the same order, the destination UIDs. */
  | {
      /** The code's name. */
      readonly code: 'COPYUID';
      /** The UIDVALIDITY of the destination mailbox. */
      readonly uidValidity: number;
      /** The UIDs of the messages copied. */
      readonly source: SequenceSet;
      /** The UIDs of the copies, in the same order. */
      readonly destination: SequenceSet;
    }
  | {
      /** The code's name. */
      readonly code: 'HIGHESTMODSEQ';
      /** The mailbox's highest mod-sequence (RFC 7162). */
      readonly modSeq: number;
    }
  /** RFC 7162: the messages a conditional STORE left unchanged. */
  | {
      /** The code's name. */
      readonly code: 'MODIFIED';
      /** The messages left unchanged. */
      readonly set: SequenceSet;
    }
  /** RFC 8474. */
  | {
      /** The code's name. */
      readonly code: 'MAILBOXID';
      /** The mailbox's unique id. */
      readonly id: string;
    }
  /** Any other code: its atom (upper case) and the text after it, as sent. */
  | {
      /** The code's kind. */
      readonly code: 'UNKNOWN';
      /** The code's atom, upper-cased. */
      readonly atom: string;
      /** The text after the atom, as sent. */
      readonly text?: string;
    };

const SIMPLE = new Set<string>([
  'ALERT',
  'PARSE',
  'READ-ONLY',
  'READ-WRITE',
  'TRYCREATE',
  'UIDNOTSTICKY',
  'NOMODSEQ',
  'CLOSED',
  'TOOBIG',
  'LIMIT',
  'ALREADYEXISTS',
  'NONEXISTENT',
  'INUSE',
  'OVERQUOTA',
  'CANNOT',
  'NOPERM',
  'AUTHENTICATIONFAILED',
  'AUTHORIZATIONFAILED',
  'EXPIRED',
  'PRIVACYREQUIRED',
  'CONTACTADMIN',
  'SERVERBUG',
  'CLIENTBUG',
  'UNAVAILABLE',
  'EXPUNGEISSUED',
  'CORRUPTION',
  'HASCHILDREN',
  'NOTSAVED',
  'UNKNOWN-CTE',
  'USEATTR',
  'COMPRESSIONACTIVE',
]);
const CLOSE_BRACKET = 0x5d;
const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** Reads an RFC 8474 `objectid` in parentheses. */
export function readObjectId(cursor: ImapCursor): string {
  cursor.expect(0x28, '"("');
  const id = cursor.word();
  if (!OBJECT_ID.test(id)) cursor.fail('Invalid object id');
  cursor.expect(0x29, '")"');
  return id;
}

/** Writes an RFC 8474 `objectid` in parentheses. */
export function writeObjectId(writer: ImapWriter, id: string): void {
  if (!OBJECT_ID.test(id)) throw new InvalidArgumentError(`not an object id: ${JSON.stringify(id)}`);
  writer.raw(`(${id})`);
}

/** Reads the words of a space-separated run up to `]` or the line end (capabilities). */
export function readAtoms(cursor: ImapCursor): string[] {
  const atoms: string[] = [];
  while (cursor.trySp()) {
    const next = cursor.peek();
    if (next === undefined || next === CLOSE_BRACKET) break;
    atoms.push(cursor.word());
  }
  return atoms;
}

/** Reads `[code]` (the opening bracket already seen but not read) and the SP after it, when present. */
export function readResponseCode(cursor: ImapCursor): ResponseCode {
  cursor.expect(0x5b, '"["');
  const code = readCode(cursor);
  if (!cursor.tryByte(CLOSE_BRACKET)) {
    if (!cursor.lenient) cursor.fail('Expected "]"');
    cursor.until(']');
    cursor.expect(CLOSE_BRACKET, '"]"');
  }
  return code;
}

function readCode(cursor: ImapCursor): ResponseCode {
  const atom = cursor.keyword();
  if (SIMPLE.has(atom)) return { code: atom as SimpleResponseCodeName };
  const uidSet = (): SequenceSet => {
    const set = SequenceSet.parse(cursor.word('sequence'));
    if (set.starFrom !== undefined || set.isSaved) cursor.fail('Invalid UID set');
    return set;
  };
  switch (atom) {
    case 'BADCHARSET': {
      if (!cursor.trySp()) return { code: atom, charsets: [] };
      return { code: atom, charsets: cursor.list(() => cursor.astring()) };
    }
    case 'CAPABILITY':
      return { code: atom, capabilities: readAtoms(cursor) };
    case 'PERMANENTFLAGS':
      cursor.sp();
      return { code: atom, flags: cursor.list(() => cursor.word('flag')) };
    case 'UIDNEXT':
    case 'UIDVALIDITY':
    case 'UNSEEN':
      cursor.sp();
      return { code: atom, value: cursor.number() };
    case 'APPENDUID': {
      cursor.sp();
      const uidValidity = cursor.nzNumber();
      cursor.sp();
      return { code: atom, uidValidity, uids: uidSet() };
    }
    case 'COPYUID': {
      cursor.sp();
      const uidValidity = cursor.nzNumber();
      cursor.sp();
      const source = uidSet();
      cursor.sp();
      return { code: atom, uidValidity, source, destination: uidSet() };
    }
    case 'HIGHESTMODSEQ': {
      cursor.sp();
      const modSeq = cursor.lenient ? cursor.attempt(() => cursor.number64()) : cursor.number64();
      // Lenient: one beyond 2⁵³−1 (RFC 7162 allows 2⁶³−1) is kept as the text of an unknown code.
      return modSeq === undefined
        ? { code: 'UNKNOWN', atom, text: cursor.until(']') }
        : { code: atom, modSeq };
    }
    case 'MODIFIED':
      cursor.sp();
      return { code: atom, set: SequenceSet.parse(cursor.word('sequence')) };
    case 'MAILBOXID':
      cursor.sp();
      return { code: atom, id: readObjectId(cursor) };
    default: {
      if (!cursor.trySp()) return { code: 'UNKNOWN', atom };
      const start = cursor.until(']');
      return { code: 'UNKNOWN', atom, text: decodeUtf8(Uint8Array.from(start, (c) => c.charCodeAt(0))) };
    }
  }
}

/** Writes `[code]` followed by SP. */
export function writeResponseCode(writer: ImapWriter, code: ResponseCode): void {
  writer.raw('[');
  switch (code.code) {
    case 'BADCHARSET':
      writer.raw(code.code);
      if (code.charsets.length > 0) writer.sp().list(code.charsets, (charset) => writer.astring(charset));
      break;
    case 'CAPABILITY':
      writer.raw(code.code);
      for (const capability of code.capabilities) writer.sp().atom(capability);
      break;
    case 'PERMANENTFLAGS':
      writer.raw(`${code.code} `).list(code.flags, (flag) => writer.atom(flag, '\\*'));
      break;
    case 'UIDNEXT':
    case 'UIDVALIDITY':
    case 'UNSEEN':
      writer.raw(`${code.code} `).number(code.value);
      break;
    case 'APPENDUID':
      writer.raw(`${code.code} `).number(code.uidValidity).sp().raw(code.uids.toString());
      break;
    case 'COPYUID':
      writer.raw(`${code.code} `).number(code.uidValidity);
      writer.sp().raw(code.source.toString()).sp().raw(code.destination.toString());
      break;
    case 'HIGHESTMODSEQ':
      writer.raw(`${code.code} `).number(code.modSeq, Number.MAX_SAFE_INTEGER);
      break;
    case 'MODIFIED':
      writer.raw(`${code.code} `).raw(code.set.toString());
      break;
    case 'MAILBOXID':
      writer.raw(`${code.code} `);
      writeObjectId(writer, code.id);
      break;
    case 'UNKNOWN':
      writer.atom(code.atom);
      if (code.text !== undefined) {
        if (code.text.includes(']')) throw new InvalidArgumentError('a response code text cannot hold "]"');
        writer.sp().raw(code.text);
      }
      break;
    default:
      if (!SIMPLE.has(code.code)) throw new InvalidArgumentError(`not a response code: ${code.code}`);
      writer.raw(code.code);
  }
  writer.raw('] ');
}
