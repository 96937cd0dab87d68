import { isFoldingSpace, readQuotedString, skipCfws } from './cfws.js';

const OPEN_ANGLE = 0x3c;
const CLOSE_ANGLE = 0x3e;
const COMMA = 0x2c;
const QUOTE = 0x22;
const OPEN = 0x28;

/**
 * The msg-ids of a Message-ID, In-Reply-To or References value, without their angle brackets
 * (RFC 5322 §3.6.4). What is between `<` and `>` is kept as written (unfolded), and an empty `<>`
 * is skipped. Comments, commas and quoted strings between ids are skipped. When the value holds no
 * bracketed id at all, its bare words are taken as ids (`malformed@id.example`); when it does, bare
 * words are ignored (an old `In-Reply-To: message of … <id>` phrase).
 */
export function parseMessageIds(value: string): string[] {
  const bracketed: string[] = [];
  const bare: string[] = [];
  let sawBrackets = false;
  let i = skipCfws(value, 0);
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (code === OPEN_ANGLE) {
      sawBrackets = true;
      const close = value.indexOf('>', i + 1);
      const end = close === -1 ? value.length : close;
      const id = unfold(value.slice(i + 1, end)).trim();
      if (id !== '') bracketed.push(id);
      i = end + 1;
    } else if (code === QUOTE) i = readQuotedString(value, i).end;
    else if (code === COMMA || code === CLOSE_ANGLE) i++;
    else {
      const start = i;
      while (i < value.length && !isBareIdEnd(value.charCodeAt(i))) i++;
      bare.push(value.slice(start, i));
    }
    i = skipCfws(value, i);
  }
  return sawBrackets ? bracketed : bare;
}

/** The first msg-id of a value (see `parseMessageIds`), or `undefined`. */
export function parseMessageId(value: string): string | undefined {
  return parseMessageIds(value)[0];
}

function isBareIdEnd(code: number): boolean {
  return (
    isFoldingSpace(code) ||
    code === OPEN_ANGLE ||
    code === CLOSE_ANGLE ||
    code === COMMA ||
    code === OPEN ||
    code === QUOTE
  );
}

function unfold(text: string): string {
  return text.includes('\n') || text.includes('\r') ? text.replace(/\r?\n|\r/g, '') : text;
}
