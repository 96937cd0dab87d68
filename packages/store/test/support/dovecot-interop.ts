import { chown, lstat, readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { MAIL_GID, MAIL_UID } from './dovecot.js';

/**
 * Helpers for tests where Postwire's Maildir store and a real Dovecot share one Maildir: handing files
 * over to Dovecot's mail uid while both run, and just enough of an IMAP response parser to read the
 * transcripts of `DovecotPeer.imap()`: FETCH data (atoms, quoted strings, literals, NIL and nested lists),
 * STATUS, and the SELECT counters.
 */

/**
 * `prepareMaildirForDovecot` for a Maildir that is in use: a file that vanishes during the walk (a lock
 * released, a temporary file renamed, a message expunged or renamed by a flag change) is skipped rather
 * than failing the walk. A no-op when not root.
 */
export async function handOverToDovecot(root: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const gone = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';
  const walk = async (path: string): Promise<void> => {
    let isDirectory: boolean;
    try {
      isDirectory = (await lstat(path)).isDirectory();
      await chown(path, MAIL_UID, MAIL_GID);
    } catch (error) {
      if (gone(error)) return;
      throw error;
    }
    if (!isDirectory) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (error) {
      if (gone(error)) return;
      throw error;
    }
    for (const name of names) await walk(join(path, name));
  };
  await walk(root);
}

/** One value of a FETCH response: an atom or string, a literal's bytes, NIL, or a list. */
export type ImapValue = string | Uint8Array | null | ImapValue[];

/** One message's FETCH data, its item names upper-cased (`UID`, `FLAGS`, `BODY[]`, …). */
export type FetchData = Record<string, ImapValue>;

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const BRACE = 0x7b;
const BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Every `* <n> FETCH (…)` of a transcript, in order. The transcript is the text `imap()` resolves:
 * server bytes as UTF-8 text, so the messages fetched must be valid UTF-8 for literal sizes to match.
 */
export function fetchResponses(transcript: string): FetchData[] {
  const bytes = Buffer.from(transcript, 'utf8');
  const results: FetchData[] = [];
  let position = 0;
  while (position < bytes.length) {
    const lineEnd = bytes.indexOf('\r\n', position);
    const end = lineEnd === -1 ? bytes.length : lineEnd;
    const head = /^\* \d+ FETCH \(/.exec(bytes.subarray(position, Math.min(end, position + 40)).toString());
    if (!head) {
      position = end + 2;
      continue;
    }
    const parser = new Parser(bytes, position + head[0].length - 1);
    const list = parser.list();
    const data: FetchData = {};
    for (let i = 0; i + 1 < list.length; i += 2) {
      const key = list[i];
      if (typeof key === 'string') data[key.toUpperCase()] = list[i + 1]!;
    }
    results.push(data);
    // The response ends with the CRLF after its closing parenthesis.
    position = bytes.indexOf('\r\n', parser.position) + 2;
  }
  return results;
}

/** FETCH responses by UID (each must carry UID). */
export function fetchByUid(transcript: string): Map<number, FetchData> {
  const byUid = new Map<number, FetchData>();
  for (const data of fetchResponses(transcript)) {
    const uid = data.UID;
    if (typeof uid !== 'string') throw new Error(`a FETCH response without UID: ${JSON.stringify(data)}`);
    byUid.set(Number(uid), data);
  }
  return byUid;
}

/** The flags of a FETCH response, `\Recent` left out (the store does not keep it), sorted. */
export function flagsOf(data: FetchData): string[] {
  const flags = data.FLAGS;
  if (!Array.isArray(flags)) throw new Error(`no FLAGS in ${JSON.stringify(data)}`);
  return (flags as string[]).filter((flag) => flag !== '\\Recent').sort();
}

/** A literal or string item as bytes. */
export function bytesOf(value: ImapValue | undefined): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new Error(`not a string: ${JSON.stringify(value)}`);
}

/** The numbers of `* STATUS <mailbox> (…)` for each mailbox in the transcript (mailbox as sent). */
export function statusResponses(transcript: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const match of transcript.matchAll(/^\* STATUS ("(?:[^"\\]|\\.)*"|\S+) \(([^)]*)\)\r$/gm)) {
    const name = match[1]!.startsWith('"') ? match[1]!.slice(1, -1).replace(/\\(.)/g, '$1') : match[1]!;
    const items = match[2]!.split(' ');
    const values: Record<string, number> = {};
    for (let i = 0; i + 1 < items.length; i += 2) values[items[i]!.toUpperCase()] = Number(items[i + 1]);
    out.set(name, values);
  }
  return out;
}

/** The counters of the last SELECT (or EXAMINE) in a transcript. */
export function selectResponse(transcript: string): { exists: number; uidValidity: number; uidNext: number } {
  const last = (pattern: RegExp): number => {
    const all = [...transcript.matchAll(pattern)];
    if (all.length === 0) throw new Error(`${pattern} not in the transcript:\n${transcript}`);
    return Number(all[all.length - 1]![1]);
  };
  return {
    exists: last(/^\* (\d+) EXISTS\r$/gm),
    uidValidity: last(/^\* OK \[UIDVALIDITY (\d+)\]/gm),
    uidNext: last(/^\* OK \[UIDNEXT (\d+)\]/gm),
  };
}

/** The tagged replies of a transcript (`a1 OK …`), by tag. */
export function taggedReplies(transcript: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of transcript.matchAll(/^(a\d+) ((?:OK|NO|BAD)\b.*)\r$/gm)) out.set(match[1]!, match[2]!);
  return out;
}

class Parser {
  position: number;
  readonly #bytes: Buffer;

  constructor(bytes: Buffer, position: number) {
    this.#bytes = bytes;
    this.position = position;
  }

  /** A parenthesised list, starting at its `(`. */
  list(): ImapValue[] {
    this.#expect(OPEN);
    const items: ImapValue[] = [];
    for (;;) {
      const byte = this.#bytes[this.position];
      if (byte === undefined) throw new Error('unterminated list');
      if (byte === SP) {
        this.position++;
        continue;
      }
      if (byte === CLOSE) {
        this.position++;
        return items;
      }
      items.push(this.#value());
    }
  }

  #value(): ImapValue {
    const byte = this.#bytes[this.position];
    if (byte === OPEN) return this.list();
    if (byte === QUOTE) return this.#quoted();
    if (byte === BRACE) return this.#literal();
    const atom = this.#atom();
    return atom.toUpperCase() === 'NIL' ? null : atom;
  }

  #quoted(): string {
    this.#expect(QUOTE);
    const out: number[] = [];
    for (;;) {
      const byte = this.#bytes[this.position++];
      if (byte === undefined) throw new Error('unterminated quoted string');
      if (byte === QUOTE) return Buffer.from(out).toString('utf8');
      if (byte === BACKSLASH) out.push(this.#bytes[this.position++]!);
      else out.push(byte);
    }
  }

  #literal(): Uint8Array {
    const close = this.#bytes.indexOf('}\r\n', this.position);
    const size = Number(
      this.#bytes
        .subarray(this.position + 1, close)
        .toString()
        .replace(/[+]$/, ''),
    );
    const start = close + 3;
    this.position = start + size;
    return new Uint8Array(this.#bytes.subarray(start, start + size));
  }

  /** An atom, which may hold a bracketed section with spaces and parentheses (`BODY[HEADER.FIELDS (A B)]`). */
  #atom(): string {
    const start = this.position;
    let depth = 0;
    for (;;) {
      const byte = this.#bytes[this.position];
      if (byte === undefined || byte === CR || byte === LF) break;
      if (byte === BRACKET) depth++;
      else if (byte === CLOSE_BRACKET) depth--;
      else if (depth === 0 && (byte === SP || byte === OPEN || byte === CLOSE)) break;
      this.position++;
    }
    return this.#bytes.subarray(start, this.position).toString('utf8');
  }

  #expect(byte: number): void {
    if (this.#bytes[this.position] !== byte) {
      throw new Error(
        `expected ${String.fromCharCode(byte)} at ${this.position}: ${this.#bytes.subarray(this.position, this.position + 40).toString()}`,
      );
    }
    this.position++;
  }
}

/** An IMAP session that stays open between commands, so that a test can act between them. */
export interface ImapSession {
  /** Sends one command (tagged here) and resolves the server's lines up to its tagged reply, included. */
  command(line: string): Promise<string>;
  /** LOGOUT, then closes the connection. */
  close(): Promise<void>;
}

/** Opens an IMAP session on 127.0.0.1 and logs in (plain LOGIN; the user and password must be atoms). */
export async function openImapSession(port: number, user: string, password: string): Promise<ImapSession> {
  const socket = connect({ host: '127.0.0.1', port });
  let buffer = Buffer.alloc(0);
  let waiter: (() => void) | undefined;
  let failure: Error | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    waiter?.();
  });
  socket.on('error', (error) => {
    failure = error;
    waiter?.();
  });
  socket.on('close', () => {
    failure ??= new Error('IMAP connection closed');
    waiter?.();
  });
  /** Reads until a line that `done` accepts, literals included; resolves the text read. */
  const readUntil = async (done: (line: string) => boolean, timeout = 15_000): Promise<string> => {
    const deadline = Date.now() + timeout;
    let text = '';
    let literal = 0;
    for (;;) {
      if (literal > 0) {
        if (buffer.length >= literal) {
          text += buffer.subarray(0, literal).toString('utf8');
          buffer = buffer.subarray(literal);
          literal = 0;
          continue;
        }
      } else {
        const end = buffer.indexOf('\r\n');
        if (end >= 0) {
          const line = buffer.subarray(0, end).toString('utf8');
          buffer = buffer.subarray(end + 2);
          text += `${line}\r\n`;
          const size = /\{(\d+)\}$/.exec(line);
          if (size) literal = Number(size[1]);
          else if (done(line)) return text;
          continue;
        }
      }
      if (failure) throw new Error(`${failure.message}\n${text}`);
      if (Date.now() > deadline) throw new Error(`IMAP reply timed out\n${text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      waiter = undefined;
    }
  };
  let tag = 0;
  const command = async (line: string): Promise<string> => {
    const current = `s${++tag}`;
    socket.write(`${current} ${line}\r\n`);
    return readUntil((reply) => reply.startsWith(`${current} `));
  };
  await readUntil((line) => line.startsWith('* OK'));
  const login = await command(`LOGIN ${user} ${password}`);
  if (!/^s1 OK/m.test(login)) {
    socket.destroy();
    throw new Error(`login failed: ${login}`);
  }
  return {
    command,
    async close() {
      try {
        await command('LOGOUT');
      } finally {
        socket.destroy();
      }
    },
  };
}
