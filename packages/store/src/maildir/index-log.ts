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
  if (end === -1) return state;
  for (const line of text.slice(0, end).split('\n')) {
    const fields = line.split(' ');
    const letters = fields[fields.length - 1]?.startsWith(':') ? fields.pop()!.slice(1) : undefined;
    const numbers = fields.slice(1).map(Number);
    if (!numbers.every((value) => Number.isSafeInteger(value) && value >= 0)) continue;
    const [first = 0, second = 0, third = 0, fourth = 0] = numbers;
    const kind = fields[0];
    if (kind === 'a' && numbers.length === 4 && letters !== undefined) {
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
    } else if (kind === 'f' && numbers.length === 2 && letters !== undefined) {
      const message = state.messages.get(first) ?? held(first);
      if (message) {
        message.loggedModseq = second;
        message.loggedLetters = letters;
      }
      raise(state, second);
    } else if ((kind === 'x' || kind === 'h') && numbers.length === 1 && letters === undefined) {
      raise(state, first);
    } else {
      continue;
    }
    state.lines++;
  }
  return state;
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
