/**
 * Postwire's own record beside each Maildir folder, `postwire-index`: what Maildir and Dovecot's files do
 * not hold. One change per line, appended:
 *
 *     a <uid> <modseq> <internal date, ms> <size> :<letters>   a message, as first seen
 *     f <uid> <modseq> :<letters>                             its flags changed
 *
 * The letters are the flag letters of the file name at that MODSEQ, so that a flag change another
 * program made while Postwire was not looking is told apart from one Postwire logged.
 *     x <modseq>                                   messages were expunged
 *     h <highest modseq>                           the state before this point (after a compaction)
 */

/**
 * What the log knows of one message. A message's internal date and size never change; its MODSEQ and
 * letters are those of its latest line (the index may be ahead, with a change not logged yet).
 */
export interface LoggedMessage {
  loggedModseq: number;
  /** The internal date, in milliseconds since the epoch. */
  readonly internalTime: number;
  readonly size: number;
  /** The file name's flag letters at `loggedModseq`. */
  loggedLetters: string;
}

/** The state a log describes. */
export interface IndexLogState {
  highestModseq: number;
  /** The records of the messages the log names that its reader keeps nowhere else. */
  readonly messages: Map<number, LoggedMessage>;
  /** Lines read: the file is compacted when it holds many more lines than messages. */
  lines: number;
}

/** An empty state. */
export function emptyLogState(): IndexLogState {
  return { highestModseq: 1, messages: new Map(), lines: 0 };
}

/**
 * Applies the log's text to `state`; a last line without its line feed (a write in progress) is ignored.
 * `held` finds the records its reader keeps itself (in its index): their lines update those records.
 */
export function replayIndexLog(
  text: string,
  state: IndexLogState = emptyLogState(),
  held: (uid: number) => LoggedMessage | undefined = () => undefined,
): IndexLogState {
  const end = text.lastIndexOf('\n');
  const fields: LineFields = { kind: '', count: 0, numbers: [0, 0, 0, 0], letters: undefined };
  for (let from = 0; from <= end; ) {
    const to = text.indexOf('\n', from);
    const wellFormed = readPlainLine(text, from, to, fields) || readLine(text.slice(from, to), fields);
    from = to + 1;
    if (!wellFormed) continue;
    const { kind, count, letters } = fields;
    const [first = 0, second = 0, third = 0, fourth = 0] = fields.numbers;
    if (kind === 'a' && count === 4 && letters !== undefined) {
      // A message already known keeps its record, brought up to date (a compaction elsewhere repeats it).
      const known = state.messages.get(first) ?? held(first);
      if (known) {
        known.loggedModseq = second;
        known.loggedLetters = letters;
      } else {
        state.messages.set(first, {
          loggedModseq: second,
          internalTime: third,
          size: fourth,
          loggedLetters: letters,
        });
      }
      raise(state, second);
    } else if (kind === 'f' && count === 2 && letters !== undefined) {
      const message = state.messages.get(first) ?? held(first);
      if (message) {
        message.loggedModseq = second;
        message.loggedLetters = letters;
      }
      raise(state, second);
    } else if ((kind === 'x' || kind === 'h') && count === 1 && letters === undefined) {
      raise(state, first);
    } else {
      continue;
    }
    state.lines++;
  }
  return state;
}

/**
 * The fields of a line: its kind (the first field), its numbers (how many, and the first four), and its
 * letters (the last field when it starts with `:`). One object, filled again for each line.
 */
interface LineFields {
  kind: string;
  count: number;
  readonly numbers: number[];
  letters: string | undefined;
}

/**
 * Reads any line: space-separated fields, a last one starting with `:` being the letters, every other
 * field after the kind a number (a safe non-negative integer as `Number` reads it). False when one is not.
 */
function readLine(line: string, fields: LineFields): boolean {
  const parts = line.split(' ');
  fields.letters = parts[parts.length - 1]?.startsWith(':') ? parts.pop()!.slice(1) : undefined;
  fields.kind = parts[0] ?? '';
  fields.count = Math.max(parts.length - 1, 0);
  for (let index = 1; index < parts.length; index++) {
    const value = Number(parts[index]);
    if (!Number.isSafeInteger(value) || value < 0) return false;
    if (index <= fields.numbers.length) fields.numbers[index - 1] = value;
  }
  return true;
}

const SPACE = 0x20;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
/** Decimal digits that always make a safe integer. */
const MAX_DIGITS = 15;

/**
 * Reads `text[from, to)` when it is a line as Postwire writes it, in one pass and without cutting it into
 * strings: a kind of one character, then fields each after one space, numbers of plain digits, and the
 * letters last. It reads such a line as {@link readLine} does; false for any other (left to it).
 */
function readPlainLine(text: string, from: number, to: number, fields: LineFields): boolean {
  if (to - from < 2 || text.charCodeAt(from + 1) !== SPACE) return false;
  fields.kind = text[from]!;
  fields.count = 0;
  fields.letters = undefined;
  for (let at = from + 2; ; at++) {
    if (text.charCodeAt(at) === COLON) {
      const space = text.indexOf(' ', at);
      if (space !== -1 && space < to) return false;
      fields.letters = text.slice(at + 1, to);
      return true;
    }
    const start = at;
    let value = 0;
    for (let code = text.charCodeAt(at); code >= ZERO && code <= NINE; code = text.charCodeAt(++at)) {
      value = value * 10 + (code - ZERO);
    }
    if (at === start || at - start > MAX_DIGITS) return false;
    if (fields.count < fields.numbers.length) fields.numbers[fields.count] = value;
    fields.count++;
    if (at === to) return true;
    if (text.charCodeAt(at) !== SPACE) return false;
  }
}

function raise(state: IndexLogState, modseq: number): void {
  if (modseq > state.highestModseq) state.highestModseq = modseq;
}

/** The line for a message first seen. */
export function messageLine(uid: number, message: LoggedMessage): string {
  return `a ${uid} ${message.loggedModseq} ${message.internalTime} ${message.size} :${message.loggedLetters}\n`;
}

/** The line for a flag change. */
export function flagsLine(uid: number, modseq: number, letters: string): string {
  return `f ${uid} ${modseq} :${letters}\n`;
}

/** The line for an expunge. */
export function expungeLine(modseq: number): string {
  return `x ${modseq}\n`;
}

/** A compacted log: the highest MODSEQ, then one line per message still present. */
export function compactIndexLog(highestModseq: number, messages: Iterable<[number, LoggedMessage]>): string {
  let text = `h ${highestModseq}\n`;
  for (const [uid, message] of messages) text += messageLine(uid, message);
  return text;
}
