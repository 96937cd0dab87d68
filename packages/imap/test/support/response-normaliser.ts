import { formatValue, type ImapValue, parseValues, textOf } from './imap-value.js';
import { type RawReply, readableText } from './raw-imap.js';

/**
 * Puts one server's answers into a form where what two RFC-valid servers may answer differently is the
 * same, and everything else is kept, so that Postwire's IMAP server can be compared with Dovecot reply
 * by reply. Each rule is a judged difference; compare-dovecot.test.ts lists them with the reason each
 * is acceptable. A normaliser belongs to one conversation: it numbers the UIDVALIDITY values it has not
 * been told about in the order they appear.
 */

/** The rules that can be switched off, to see the raw difference behind one of them. */
export interface NormaliserOptions {
  /** UIDVALIDITY values both servers share (the mailboxes of the copied Maildir): kept as they are. */
  readonly knownUidValidities?: ReadonlySet<number>;
  /** Drop `* OK [UNSEEN n]` from SELECT and EXAMINE (default true). */
  readonly dropUnseenCode?: boolean;
  /** Replace BODYSTRUCTURE's body-fld-lines with `#` (default true). */
  readonly ignoreBodyLines?: boolean;
}

const STATUS_RESPONSE =
  /^(\*|[A-Za-z0-9]+) (OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*(?:\[[^\]]*\][^\]]*)?)\])?(?: (.*))?$/s;
const CHILDREN_ATTRIBUTES = new Set(['\\HASCHILDREN', '\\HASNOCHILDREN']);

export class ResponseNormaliser {
  readonly #known: ReadonlySet<number>;
  readonly #dropUnseen: boolean;
  readonly #ignoreLines: boolean;
  readonly #placeholders = new Map<string, string>();

  constructor(options: NormaliserOptions = {}) {
    this.#known = options.knownUidValidities ?? new Set();
    this.#dropUnseen = options.dropUnseenCode ?? true;
    this.#ignoreLines = options.ignoreBodyLines ?? true;
  }

  /** The normalised responses to `command`: the untagged ones (maybe reordered), then the tagged one. */
  normalise(command: string, reply: RawReply): string[] {
    const verb = /^(?:UID )?([A-Z]+)/i.exec(command)?.[1]?.toUpperCase() ?? '';
    const selecting = verb === 'SELECT' || verb === 'EXAMINE';
    let untagged = reply.untagged
      .filter((response) => !(this.#dropUnseen && /^\* OK \[UNSEEN \d+\]/i.test(response)))
      // OBJECTID (RFC 8474) is ours alone: Dovecot 2.3 has no MAILBOXID to compare it with.
      .filter((response) => !/^\* OK \[MAILBOXID /i.test(response))
      // \Recent is not kept by every server: its count is compared only where SELECT must give one.
      .filter((response) => selecting || !/^\* \d+ RECENT$/i.test(response))
      // Dovecot announces a keyword it has only been asked to SEARCH for as a new flag.
      .filter((response) => verb !== 'SEARCH' || !/^\* (FLAGS |OK \[PERMANENTFLAGS )/i.test(response))
      .map((response) => this.#response(response, droppedAttributes(command)));
    if (selecting) untagged = [...untagged].sort();
    if (verb === 'LIST' || verb === 'LSUB') untagged = sortListGroups(untagged);
    return [...untagged, this.#response(reply.tagged, new Set())];
  }

  #response(response: string, dropped: ReadonlySet<string>): string {
    const status = STATUS_RESPONSE.exec(response);
    if (status) {
      const [, tag, kind, code] = status;
      const normal = code === undefined ? '' : this.#code(code);
      return `${tag} ${kind!.toUpperCase()}${normal ? ` [${normal}]` : ''}`;
    }
    if (/^\* CAPABILITY /i.test(response)) return '* CAPABILITY …';
    if (/^\* \d+ RECENT$/i.test(response)) return '* # RECENT';
    const esearch = /^\* ESEARCH (\(TAG "[^"]*"\) )?(UID )?/i.exec(response);
    if (esearch) return `${esearch[0]}${sortReturnData(response.slice(esearch[0].length))}`;
    const fetch = /^\* (\d+) FETCH /i.exec(response);
    if (fetch)
      return `* ${fetch[1]} FETCH ${this.#fetch(parseValues(response, fetch[0].length)[0] as ImapValue[])}`;
    const flags = /^\* FLAGS /i.exec(response);
    if (flags)
      return `* FLAGS ${formatValue(sortFlags(parseValues(response, flags[0].length)[0] as ImapValue[]))}`;
    const list = /^\* (LIST|LSUB) /i.exec(response);
    if (list) {
      const [attributes, ...rest] = parseValues(response, list[0].length);
      let sorted = sortFlags(attributes as ImapValue[]);
      sorted = sorted.filter((a) => !dropped.has(textOf(a)!.toUpperCase()));
      return `* ${list[1]!.toUpperCase()} ${[sorted, ...rest].map(formatValue).join(' ')}`;
    }
    const statusData = /^\* STATUS /i.exec(response);
    if (statusData) {
      const [name, items] = parseValues(response, statusData[0].length) as [ImapValue, ImapValue[]];
      const out = items.map((item, i) =>
        i % 2 === 1 && textOf(items[i - 1])?.toUpperCase() === 'UIDVALIDITY'
          ? { atom: this.#uidValidity(textOf(item)!) }
          : item,
      );
      return `* STATUS ${formatValue(name)} ${formatValue(out)}`;
    }
    return readableText(response);
  }

  /** A response code: CAPABILITY's list elided, flag lists sorted, unknown UIDVALIDITY values numbered. */
  #code(code: string): string {
    const [name = '', ...args] = code.split(' ');
    switch (name.toUpperCase()) {
      case 'CAPABILITY':
        return 'CAPABILITY …';
      // RFC 3501 §7.1: the list of supported charsets is optional.
      case 'BADCHARSET':
        return 'BADCHARSET';
      // RFC 5530 codes that Dovecot leaves out where Postwire gives them: the NO itself is compared.
      case 'NONEXISTENT':
      case 'CANNOT':
      case 'MAILBOXID':
        return '';
      case 'PERMANENTFLAGS':
        return `PERMANENTFLAGS ${formatValue(sortFlags(parseValues(args.join(' '))[0] as ImapValue[]))}`;
      case 'UIDVALIDITY':
      case 'APPENDUID':
      case 'COPYUID':
        return [name, this.#uidValidity(args[0]!), ...args.slice(1)].join(' ');
      default:
        return code;
    }
  }

  #uidValidity(value: string): string {
    if (this.#known.has(Number(value))) return value;
    let placeholder = this.#placeholders.get(value);
    if (!placeholder) {
      placeholder = `<uidvalidity-${this.#placeholders.size + 1}>`;
      this.#placeholders.set(value, placeholder);
    }
    return placeholder;
  }

  /** FETCH data: item names upper-cased, items sorted by name, values in canonical form. */
  #fetch(items: ImapValue[]): string {
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      // A partial BINARY's origin: Dovecot gives it, RFC 9051's msg-att-static has none for BINARY.
      const name = textOf(items[i])!
        .toUpperCase()
        .replace(/^(BINARY\[[^\]]*\])<\d+>$/, '$1');
      const value = items[i + 1]!;
      let out: ImapValue = value;
      if (name === 'FLAGS') out = sortFlags(value as ImapValue[]);
      else if (name === 'BODYSTRUCTURE') out = this.#body(value as ImapValue[], true);
      else if (name === 'BODY') out = this.#body(value as ImapValue[], false);
      pairs.push([name, formatValue(out)]);
    }
    return `(${pairs
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name} ${value}`)
      .join(' ')})`;
  }

  /**
   * A body structure with the tokens that are case-insensitive lower-cased (type, subtype, parameter
   * names, a charset's value, the transfer encoding, the disposition type), a language list of one
   * written as that one string, and (by default) the line counts replaced.
   */
  #body(body: ImapValue[], extended: boolean): ImapValue[] {
    if (Array.isArray(body[0])) {
      let i = 0;
      const parts: ImapValue[] = [];
      while (Array.isArray(body[i])) parts.push(this.#body(body[i++] as ImapValue[], extended));
      const subtype = lower(body[i++]!);
      const extension = body.slice(i);
      if (extension.length > 0) extension[0] = params(extension[0]!);
      if (extension.length > 1) extension[1] = disposition(extension[1]!);
      if (extension.length > 2) extension[2] = language(extension[2]!);
      return [...parts, subtype, ...extension];
    }
    const [type, subtype, parameters, id, description, encoding, size, ...rest] = body;
    const out: ImapValue[] = [
      lower(type!),
      lower(subtype!),
      params(parameters!),
      id!,
      description!,
      lower(encoding!),
      size!,
    ];
    const kind = `${textOf(type)}/${textOf(subtype)}`.toLowerCase();
    let extension = rest;
    if (kind === 'message/rfc822' || kind === 'message/global') {
      const [envelope, inner, lines, ...more] = rest;
      out.push(envelope!, this.#body(inner as ImapValue[], extended), this.#lines(lines!));
      extension = more;
    } else if (textOf(type)?.toLowerCase() === 'text') {
      const [lines, ...more] = rest;
      out.push(this.#lines(lines!));
      extension = more;
    }
    if (!extended && extension.length > 0) throw new Error('extension data in BODY');
    const [md5, dispositionValue, languageValue, ...location] = extension;
    if (extension.length > 0) out.push(md5!);
    if (extension.length > 1) out.push(disposition(dispositionValue!));
    if (extension.length > 2) out.push(language(languageValue!));
    return [...out, ...location];
  }

  #lines(lines: ImapValue): ImapValue {
    return this.#ignoreLines ? { atom: '#' } : lines;
  }
}

function lower(value: ImapValue): ImapValue {
  return typeof value === 'string' ? value.toLowerCase() : value;
}

/** A body parameter list: names lower-cased, and a charset's value (RFC 2046 §4.1.2: case-insensitive). */
function params(value: ImapValue): ImapValue {
  if (!Array.isArray(value)) return value;
  return value.map((item, i) => {
    if (i % 2 === 0) return lower(item);
    return textOf(value[i - 1])?.toLowerCase() === 'charset' ? lower(item) : item;
  });
}

function disposition(value: ImapValue): ImapValue {
  if (!Array.isArray(value)) return value;
  const [type, parameters] = value;
  return [lower(type!), params(parameters!)];
}

function language(value: ImapValue): ImapValue {
  if (Array.isArray(value) && value.length === 1) return lower(value[0]!);
  return Array.isArray(value) ? value.map(lower) : lower(value);
}

/** The attributes RFC 6154 §2 defines. */
const SPECIAL_USE_ATTRIBUTES = new Set([
  '\\ALL',
  '\\ARCHIVE',
  '\\DRAFTS',
  '\\FLAGGED',
  '\\JUNK',
  '\\SENT',
  '\\TRASH',
]);

/**
 * The attributes left out of a LIST command's answer: in a LIST-EXTENDED one (selection options, several
 * patterns, or RETURN), \HasChildren/\HasNoChildren unless CHILDREN is asked for (RFC 5258 §4 lets a
 * server give them unasked) and the special-use attributes unless SPECIAL-USE is (RFC 6154 §2 likewise).
 */
function droppedAttributes(command: string): ReadonlySet<string> {
  if (!/^LIST /i.test(command)) return new Set();
  const extended = /^LIST \(/i.test(command) || /^LIST \S+ \(/i.test(command) || / RETURN \(/i.test(command);
  if (!extended) return new Set();
  const dropped = new Set<string>();
  if (!/ RETURN \([^)]*CHILDREN/i.test(command)) for (const name of CHILDREN_ATTRIBUTES) dropped.add(name);
  if (!/SPECIAL-USE/i.test(command)) for (const name of SPECIAL_USE_ATTRIBUTES) dropped.add(name);
  return dropped;
}

/** ESEARCH return data (`MIN 2 MAX 6 COUNT 3 ALL 2,4,6`) as pairs sorted by name (RFC 4731 sets no order). */
function sortReturnData(data: string): string {
  const words = data.split(' ').filter(Boolean);
  const pairs: string[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) pairs.push(`${words[i]!.toUpperCase()} ${words[i + 1]}`);
  return pairs.sort().join(' ');
}

/** A flag list without `\Recent`, sorted case-insensitively. */
function sortFlags(flags: ImapValue[]): ImapValue[] {
  return flags
    .filter((flag) => textOf(flag)?.toUpperCase() !== '\\RECENT')
    .sort((a, b) => {
      const x = textOf(a)!.toUpperCase();
      const y = textOf(b)!.toUpperCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
}

/**
 * LIST/LSUB responses sorted by mailbox name, each kept with the `* STATUS` that follows it (LIST-STATUS
 * puts a mailbox's STATUS right after its LIST).
 */
function sortListGroups(responses: string[]): string[] {
  const groups: string[][] = [];
  for (const response of responses) {
    if (/^\* (LIST|LSUB) /i.test(response) || groups.length === 0) groups.push([response]);
    else groups[groups.length - 1]!.push(response);
  }
  const key = (group: string[]): string => {
    const values = parseValues(group[0]!, group[0]!.indexOf(' ', 2) + 1);
    return textOf(values[2]) ?? '';
  };
  return groups.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).flat();
}
