import { resolveLimits } from '@postwire/core';
import { decodeEncodedWords } from '../header/encoded-word.js';
import { defaultMimeLimits } from '../limits.js';
import { isDotAtom, quoteString } from './addr-spec.js';
import { toAsciiDomain } from './idn.js';
import { type Comment, fieldEnd, type Token, TokenKind, tokenize } from './tokenize.js';
import type { Address, Group, Mailbox } from './types.js';

/** Limits of {@link parseAddressList}; each defaults to the one in `defaultMimeLimits`. */
export interface AddressParseOptions {
  /** Nesting depth of comments; a deeper comment is dropped whole. */
  maxStructureDepth?: number;
  /** Encoded words decoded in the field; later ones stay as written. */
  maxEncodedWords?: number;
  /** Decode RFC 2047 encoded words in display names (default `true`); IMAP's ENVELOPE wants them as written. */
  decodeEncodedWords?: boolean;
}

/** The reading of an address field and what was wrong with it. */
export interface AddressListResult {
  /** The mailboxes and groups, in order. */
  addresses: Address[];
  /** Defect codes, each at most once, in the order first met. */
  defects: string[];
}

/** The reading of a single-mailbox field (Sender, Resent-Sender). */
export interface MailboxResult {
  /** The first mailbox of the field, or `null` when it has none. */
  mailbox: Mailbox | null;
  /** Defect codes, each at most once, in the order first met. */
  defects: string[];
}

/**
 * Parses an address-list field body (From, To, Cc, Bcc, Reply-To, Resent-*): the raw text after `Name:`,
 * possibly folded; it ends at the first line break not followed by whitespace. RFC 5322 §3.4 with the
 * obsolete syntax of §4.4 and UTF-8 (RFC 6532). Malformed input never throws: it gives the best reading
 * plus defect codes. Linear time whatever the input.
 *
 * Readings worth knowing:
 * - Encoded words (RFC 2047) are decoded in display names, quoted display names and comments, never in an
 *   addr-spec. A name whose decoded text holds an `@` that the raw text did not adds
 *   `encoded-address-in-name`.
 * - Comments: without a display name their text becomes `name` (`a@b (Name)`), otherwise `comment`. An
 *   element made only of a comment is returned as a mailbox with that name and no address. Comments nested
 *   deeper than `maxStructureDepth` are dropped (`limit-maxStructureDepth`).
 * - A route (`<@a,@b:user@c>`) is dropped (`obsolete-route`). Whitespace or comments between the dots of
 *   a local part or domain are removed (`obsolete-local-part`, `obsolete-domain`).
 * - Every mailbox is exposed, and what readers disagree on is flagged `ambiguous-address`: a backslash
 *   outside quotes is dropped (so `<a@x>\,<b@y>` gives two mailboxes); a second `<…>` in one element starts
 *   a new mailbox; an addr-spec after `<…>` (`<a@x>b@y`) is a mailbox of its own, after the bracketed one;
 *   an unquoted `@` before `<…>` (`a@x <b@y>`) stays in the display name.
 * - Plain words after `<…>` become the display name (`name-after-address`); words before a bare addr-spec
 *   too (`missing-angle-brackets`). A lone word without `@` is a local-only address (`missing-domain`),
 *   unless it looks like an encoded word; other words without an address give a mailbox with a name and
 *   no address (`missing-address`). Bracketed text that is no addr-spec (a URL in List-* fields) is kept
 *   as written in `address` (`invalid-address`).
 * - IDN domains are kept as written; one that UTS #46 refuses adds `invalid-idn`, and one whose ASCII form
 *   has more labels (`。`) adds `idn-mapped-dot`.
 * - A backslash that ends a folded line in a quoted string or comment escapes the first character of the
 *   next line (`(a \⏎ ) b)` is the comment `a ) b`).
 * - Other defect codes: `unclosed-comment`, `unclosed-quoted-string`, `unclosed-domain-literal`,
 *   `unclosed-angle-bracket`, `unclosed-group`, `unbalanced-bracket`, `nested-angle-bracket`,
 *   `unexpected-angle-bracket`, `unexpected-colon`, `unexpected-semicolon`, `nested-group`, `empty-address`,
 *   `invalid-local-part`, `invalid-domain`, `control-character`, `limit-maxEncodedWords`, and those of
 *   `decodeEncodedWords`.
 * @throws InvalidArgumentError for a limit that is not a positive integer or `Infinity`.
 */
export function parseAddressList(value: string, options?: AddressParseOptions): AddressListResult {
  const reader = new AddressReader(value, options);
  const addresses = reader.read();
  return { addresses, defects: [...reader.defects] };
}

/**
 * Parses a field that holds one mailbox (Sender). Returns its first mailbox, group members included; a
 * group adds `unexpected-group`, and more than one mailbox adds `multiple-mailboxes`.
 */
export function parseMailbox(value: string, options?: AddressParseOptions): MailboxResult {
  const { addresses, defects } = parseAddressList(value, options);
  const mailboxes: Mailbox[] = [];
  for (const address of addresses) {
    if ('group' in address) {
      if (!defects.includes('unexpected-group')) defects.push('unexpected-group');
      mailboxes.push(...address.members);
    } else {
      mailboxes.push(address);
    }
  }
  if (mailboxes.length > 1) defects.push('multiple-mailboxes');
  return { mailbox: mailboxes[0] ?? null, defects };
}

function isSpecial(token: Token | undefined, char: string): boolean {
  return token !== undefined && token.kind === TokenKind.Special && token.text === char;
}

function isWord(token: Token): boolean {
  return token.kind === TokenKind.Atom || token.kind === TokenKind.Quoted;
}

function isLocalPart(token: Token): boolean {
  return isWord(token) || isSpecial(token, '.');
}

function isDomainPart(token: Token): boolean {
  return token.kind === TokenKind.Atom || token.kind === TokenKind.Literal || isSpecial(token, '.');
}

/** True when two neighbours of a dotted sequence belong together: one of them is a dot. */
function joins(before: Token, after: Token): boolean {
  return isSpecial(before, '.') || isSpecial(after, '.');
}

function looksEncoded(text: string): boolean {
  return text.startsWith('=?') && text.endsWith('?=');
}

const NON_ASCII = /[^\x00-\x7f]/;

const addressLimits = {
  maxStructureDepth: defaultMimeLimits.maxStructureDepth,
  maxEncodedWords: defaultMimeLimits.maxEncodedWords,
};

function count(text: string, search: string): number {
  let found = 0;
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + search.length)) found++;
  return found;
}

/** One pass over the tokens of one field. */
class AddressReader {
  readonly defects = new Set<string>();
  readonly #value: string;
  readonly #tokens: Token[];
  readonly #comments: Comment[];
  /** The first comment not yet given to an element or group. */
  #nextComment = 0;
  /** True once a token was marked skipped: elements then filter their tokens. */
  #skipped = false;
  #encodedWordsLeft: number;
  readonly #decodeWords: boolean;
  readonly #output: Address[] = [];
  #group: Group | undefined;

  constructor(value: string, options: AddressParseOptions | undefined) {
    this.#value = value;
    const { decodeEncodedWords: decodeWords = true, ...limitOptions } = options ?? {};
    this.#decodeWords = decodeWords;
    const limits = options === undefined ? defaultMimeLimits : resolveLimits(addressLimits, limitOptions);
    const maxDepth = limits.maxStructureDepth;
    this.#encodedWordsLeft = limits.maxEncodedWords;
    const { tokens, comments } = tokenize(value, fieldEnd(value), maxDepth, this.defects);
    this.#tokens = tokens;
    this.#comments = comments;
  }

  read(): Address[] {
    const tokens = this.#tokens;
    let start = 0;
    let open = -1;
    let close = -1;
    let route = false;
    const finish = (end: number): void => {
      if (open >= 0 && close < 0) {
        this.defects.add('unclosed-angle-bracket');
        close = end;
      }
      this.#element(start, end, open, close);
      start = end + 1;
      open = -1;
      close = -1;
    };
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token.kind !== TokenKind.Special) continue;
      const inAngle = open >= 0 && close < 0;
      switch (token.text) {
        case '<':
          if (inAngle) {
            this.#skip(token, 'nested-angle-bracket');
          } else {
            if (close >= 0) {
              this.defects.add('ambiguous-address');
              finish(i);
              start = i;
            }
            open = i;
            route = isSpecial(tokens[i + 1], '@');
          }
          break;
        case '>':
          if (inAngle) close = i;
          else this.#skip(token, 'unexpected-angle-bracket');
          break;
        case ':':
          if (inAngle) {
            route = false;
          } else if (open >= 0) {
            this.#skip(token, 'unexpected-colon');
          } else {
            this.#openGroup(start, i);
            start = i + 1;
          }
          break;
        case ',':
          if (!(inAngle && route)) finish(i);
          break;
        case ';':
          finish(i);
          this.#closeGroup();
          break;
      }
    }
    finish(tokens.length);
    if (this.#group !== undefined) {
      this.defects.add('unclosed-group');
      this.#group = undefined;
    }
    return this.#output;
  }

  #skip(token: Token, defect: string): void {
    token.kind = TokenKind.Skipped;
    this.#skipped = true;
    this.defects.add(defect);
  }

  #openGroup(start: number, colon: number): void {
    const comment = this.#takeComments(colon);
    if (this.#group !== undefined) {
      this.defects.add('nested-group');
      return;
    }
    const group: Group = { group: this.#phrase(this.#tokens, start, colon), members: [] };
    if (comment !== '') {
      if (group.group === '') group.group = comment;
      else group.comment = comment;
    }
    this.#group = group;
    this.#output.push(group);
  }

  #closeGroup(): void {
    if (this.#group === undefined) this.defects.add('unexpected-semicolon');
    this.#group = undefined;
  }

  /** The decoded text of the comments before the token at `end` not yet taken, joined by a space. */
  #takeComments(end: number): string {
    const comments = this.#comments;
    let text = '';
    while (this.#nextComment < comments.length && comments[this.#nextComment]!.before <= end) {
      text += text === '' ? comments[this.#nextComment]!.text : ` ${comments[this.#nextComment]!.text}`;
      this.#nextComment++;
    }
    return text === '' ? '' : this.#decode(text);
  }

  /** Reads the list element between `start` and `end`, with its `<` at `open` and `>` at `close` if any. */
  #element(start: number, end: number, open: number, close: number): void {
    const comment = this.#takeComments(end);
    let words = this.#tokens;
    if (this.#skipped) {
      // Rare: drop the skipped tokens, keeping the positions of the brackets.
      words = [];
      let kept = 0;
      for (let i = start; i < end; i++) {
        const token = this.#tokens[i]!;
        if (i === open) open = start + kept;
        if (i === close) close = start + kept;
        if (token.kind !== TokenKind.Skipped) words[start + kept++] = token;
      }
      if (close === end) close = start + kept;
      end = start + kept;
    }
    let mailboxes: Mailbox[];
    if (open >= 0) {
      // An unquoted `@` before `<…>` (`admin@legit.example <s@attack.example>`) is no phrase: a reader that
      // takes the first addr-spec sees another author than one that takes the bracketed one.
      for (let i = start; i < open; i++) if (isSpecial(words[i], '@')) this.defects.add('ambiguous-address');
      const mailbox = this.#bracketed(words, open + 1, close);
      mailbox.name = this.#phrase(words, start, open);
      mailboxes = [mailbox];
      let addrSpecAfter = false;
      for (let i = close + 1; i < end; i++) if (isSpecial(words[i], '@')) addrSpecAfter = true;
      if (addrSpecAfter) {
        this.defects.add('ambiguous-address');
        for (const extra of this.#bare(words, close + 1, end)) mailboxes.push(extra);
      } else if (close + 1 < end) {
        this.defects.add('name-after-address');
        const trailing = this.#phrase(words, close + 1, end);
        mailbox.name = mailbox.name === '' ? trailing : `${mailbox.name} ${trailing}`;
      }
    } else {
      mailboxes = this.#bare(words, start, end);
    }
    if (comment !== '') {
      const first = mailboxes[0];
      if (first === undefined) mailboxes.push({ name: comment, address: '' });
      else if (first.name === '') first.name = comment;
      else first.comment = comment;
    }
    const target = this.#group?.members ?? this.#output;
    for (const mailbox of mailboxes) target.push(mailbox);
  }

  /** The display name made of `words[from, to)`: words joined by one space where the source had space. */
  #phrase(words: Token[], from: number, to: number): string {
    if (from >= to) return '';
    let raw = words[from]!.text;
    for (let i = from + 1; i < to; i++) {
      const token = words[i]!;
      raw += token.space ? ` ${token.text}` : token.text;
    }
    return this.#decode(raw);
  }

  /** Decodes the encoded words of display text, within the field's budget. */
  #decode(raw: string): string {
    if (!this.#decodeWords || !raw.includes('=?')) return raw;
    if (this.#encodedWordsLeft <= 0) {
      this.defects.add('limit-maxEncodedWords');
      return raw;
    }
    const { text, defects } = decodeEncodedWords(raw, { maxEncodedWords: this.#encodedWordsLeft });
    this.#encodedWordsLeft -= count(raw, '=?');
    for (const defect of defects) this.defects.add(defect);
    if (text.includes('@') && count(text, '@') > count(raw, '@')) this.defects.add('encoded-address-in-name');
    return text;
  }

  /** The source text of `words[from, to)` without line breaks, for what is kept as written. */
  #source(words: Token[], from: number, to: number): string {
    return this.#value.slice(words[from]!.start, words[to - 1]!.end).replace(/[\r\n]/g, '');
  }

  /** The mailbox of the tokens `words[from, to)` inside `<…>`. */
  #bracketed(words: Token[], from: number, to: number): Mailbox {
    if (from >= to) {
      this.defects.add('empty-address');
      return { name: '', address: '' };
    }
    const first = from;
    if (isSpecial(words[from], '@')) {
      for (let i = from; i < to; i++) {
        if (isSpecial(words[i], ':')) {
          this.defects.add('obsolete-route');
          from = i + 1;
          break;
        }
      }
    }
    let at = -1;
    let fits = from < to;
    for (let i = from; i < to && fits; i++) {
      const token = words[i]!;
      if (isSpecial(token, '@')) {
        if (at >= 0) fits = false;
        at = i;
      } else {
        fits = at < 0 ? isLocalPart(token) : isDomainPart(token);
      }
    }
    if (fits && at > from && at < to - 1) return this.#addrSpec(words, from, at, to);
    if (fits && at < 0) return this.#localOnly(words, from, to);
    this.defects.add('invalid-address');
    return { name: '', address: this.#source(words, first, to) };
  }

  /** The mailboxes of `words[start, end)` without `<…>`: addr-specs, with the words before each as its name. */
  #bare(words: Token[], start: number, end: number): Mailbox[] {
    const mailboxes: Mailbox[] = [];
    let nameStart = start;
    for (let at = start; at < end; at++) {
      if (!isSpecial(words[at], '@')) continue;
      let from = at;
      if (from > nameStart && isLocalPart(words[from - 1]!)) {
        from--;
        while (from > nameStart && isLocalPart(words[from - 1]!) && joins(words[from - 1]!, words[from]!))
          from--;
      }
      let to = at + 1;
      if (to < end && isDomainPart(words[to]!)) {
        to++;
        while (to < end && isDomainPart(words[to]!) && joins(words[to - 1]!, words[to]!)) to++;
      }
      if (mailboxes.length > 0) this.defects.add('ambiguous-address');
      let mailbox: Mailbox;
      if (from < at && to > at + 1) {
        mailbox = this.#addrSpec(words, from, at, to);
      } else {
        this.defects.add('invalid-address');
        mailbox = { name: '', address: this.#source(words, from, to) };
      }
      if (from > nameStart) {
        this.defects.add('missing-angle-brackets');
        mailbox.name = this.#phrase(words, nameStart, from);
      }
      mailboxes.push(mailbox);
      nameStart = to;
      at = to - 1;
    }
    if (nameStart >= end) return mailboxes;
    const last = mailboxes[mailboxes.length - 1];
    if (last !== undefined) {
      this.defects.add('ambiguous-address');
      const trailing = this.#phrase(words, nameStart, end);
      last.name = last.name === '' ? trailing : `${last.name} ${trailing}`;
    } else if (this.#isLocalOnly(words, start, end)) {
      mailboxes.push(this.#localOnly(words, start, end));
    } else {
      this.defects.add('missing-address');
      mailboxes.push({ name: this.#phrase(words, start, end), address: '' });
    }
    return mailboxes;
  }

  /** True for one unspaced dotted run of words that starts with an atom, not an encoded word (`NO`, `root`). */
  #isLocalOnly(words: Token[], start: number, end: number): boolean {
    const first = words[start]!;
    if (first.kind !== TokenKind.Atom || looksEncoded(first.text)) return false;
    for (let i = start + 1; i < end; i++) if (words[i]!.space || !isLocalPart(words[i]!)) return false;
    return true;
  }

  /** A mailbox whose address is a local part alone (`<postmaster>`, `NO`). */
  #localOnly(words: Token[], from: number, to: number): Mailbox {
    this.defects.add('missing-domain');
    const { text, quoted } = this.#dotted(words, from, to, 'obsolete-local-part', 'invalid-local-part');
    return { name: '', address: quoted && !isDotAtom(text, true) ? quoteString(text) : text, local: text };
  }

  /** The mailbox of the addr-spec `words[from, at)` `@` `words[at + 1, to)`. */
  #addrSpec(words: Token[], from: number, at: number, to: number): Mailbox {
    const local = this.#dotted(words, from, at, 'obsolete-local-part', 'invalid-local-part');
    let domain: string;
    if (to === at + 2 && words[at + 1]!.kind === TokenKind.Literal) {
      domain = words[at + 1]!.text;
    } else {
      domain = this.#dotted(words, at + 1, to, 'obsolete-domain', 'invalid-domain').text;
      this.#checkIdn(domain);
    }
    const localText = local.quoted && !isDotAtom(local.text, true) ? quoteString(local.text) : local.text;
    return { name: '', address: `${localText}@${domain}`, local: local.text, domain };
  }

  /**
   * The text of a dotted sequence of words (local part or domain), with quoted words unquoted. Space between
   * its tokens is obsolete syntax; a missing, doubled or outer dot, or a literal among atoms, is invalid.
   */
  #dotted(
    words: Token[],
    from: number,
    to: number,
    obsolete: string,
    invalid: string,
  ): { text: string; quoted: boolean } {
    let text = '';
    let quoted = false;
    let wantWord = true;
    let valid = true;
    for (let i = from; i < to; i++) {
      const token = words[i]!;
      if (i > from && token.space) this.defects.add(obsolete);
      const dot = isSpecial(token, '.');
      if (dot === wantWord || token.kind === TokenKind.Literal) valid = false;
      if (token.kind === TokenKind.Quoted) quoted = true;
      wantWord = dot;
      text += token.text;
    }
    if (quoted && to - from > 1) this.defects.add(obsolete);
    if (!valid || wantWord) this.defects.add(invalid);
    return { text, quoted };
  }

  /** Flags a non-ASCII domain that UTS #46 refuses, or whose mapping creates new label separators. */
  #checkIdn(domain: string): void {
    if (!NON_ASCII.test(domain)) return;
    try {
      if (count(toAsciiDomain(domain), '.') !== count(domain, '.')) this.defects.add('idn-mapped-dot');
    } catch {
      this.defects.add('invalid-idn');
    }
  }
}
