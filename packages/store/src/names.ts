import { InvalidMailboxNameError } from './errors.js';
import { MAILBOX_DELIMITER } from './types.js';

/** The longest mailbox name accepted, in UTF-8 octets. */
export const MAX_MAILBOX_NAME_OCTETS = 4096;

/** The longest component of a mailbox name (and the longest user name), in UTF-8 octets. */
export const MAX_NAME_COMPONENT_OCTETS = 255;

/**
 * Controls (C0, DEL, C1), lone surrogates, noncharacters, the line and paragraph separators and the
 * byte order mark: characters that break protocol lines, file names or logs.
 */
const CONTROL_CHARACTER = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}\u2028\u2029\ufeff]/u;

/** IMAP's LIST wildcards, and the path separator of other systems. */
const FORBIDDEN_MAILBOX_CHARACTER = /[\\*%]/;

/** Fullwidth and halfwidth forms, whose compatibility decomposition is their ordinary form. */
const WIDE_OR_NARROW = /[\u3000\uff01-\uffef]/g;

/**
 * Characters a user name may not hold besides controls: spaces, path separators, invisible
 * (default-ignorable) characters and unassigned code points, which could later normalise differently.
 */
const FORBIDDEN_USER_CHARACTER = /[\p{White_Space}/\\\p{Default_Ignorable_Code_Point}\p{Cn}]/u;

/** The length of a well-formed string in UTF-8, counted without encoding it. */
function utf8Length(text: string): number {
  let octets = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is four octets: two for each half.
    octets += unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 2 : 3;
  }
  return octets;
}

function rejectControlCharacters(name: string): void {
  const match = CONTROL_CHARACTER.exec(name);
  if (match) {
    const code = match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new InvalidMailboxNameError('control-character', `name contains U+${code}`);
  }
}

/** Whether a mailbox name (or its first component) is the inbox: `INBOX` in any ASCII case. */
export function isInbox(name: string): boolean {
  return /^inbox$/i.test(name);
}

/**
 * Validates a mailbox name and returns its one canonical spelling: Unicode NFC, `/`-separated, with a
 * first component that is `INBOX` in any case written `INBOX`. Every store calls this before a name
 * reaches storage, so the result never names anything outside the user's mail.
 * @throws InvalidMailboxNameError for an empty name, one over {@link MAX_MAILBOX_NAME_OCTETS} or with a
 *   component over {@link MAX_NAME_COMPONENT_OCTETS}, an empty, `.` or `..` component, a first
 *   component starting with `~`, a control character, noncharacter or lone surrogate, or `\`, `*`, `%`.
 */
export function canonicalMailboxName(name: string): string {
  // NFC can lengthen a string, so the checks run on the form that is returned.
  const normalized = name.normalize('NFC');
  if (normalized === '') throw new InvalidMailboxNameError('empty');
  if (utf8Length(normalized) > MAX_MAILBOX_NAME_OCTETS) {
    throw new InvalidMailboxNameError('too-long', `mailbox name exceeds ${MAX_MAILBOX_NAME_OCTETS} octets`);
  }
  rejectControlCharacters(normalized);
  if (FORBIDDEN_MAILBOX_CHARACTER.test(normalized)) {
    throw new InvalidMailboxNameError('forbidden-character', 'mailbox name contains \\, * or %');
  }
  const components = normalized.split(MAILBOX_DELIMITER);
  for (const component of components) {
    if (component === '') throw new InvalidMailboxNameError('empty-component');
    if (component === '.' || component === '..') throw new InvalidMailboxNameError('dot-component');
    if (utf8Length(component) > MAX_NAME_COMPONENT_OCTETS) {
      throw new InvalidMailboxNameError(
        'component-too-long',
        `mailbox name component exceeds ${MAX_NAME_COMPONENT_OCTETS} octets`,
      );
    }
  }
  if (components[0]!.startsWith('~')) {
    throw new InvalidMailboxNameError('forbidden-character', 'mailbox name starts with ~');
  }
  if (isInbox(components[0]!)) components[0] = 'INBOX';
  return components.join(MAILBOX_DELIMITER);
}

/**
 * Prepares a user name as RFC 8265's UsernameCaseMapped profile does, so that one person has one mail
 * root: fullwidth and halfwidth forms become their ordinary forms, then lower case, then NFC.
 * `ＡＤＭＩＮ`, `ａｄｍｉｎ` and `Admin` all give `admin`; `alice@example.com` stays as it is.
 * @throws InvalidMailboxNameError for an empty name, one over {@link MAX_NAME_COMPONENT_OCTETS}, a
 *   control, space, invisible or unassigned character, `/` or `\`, or a name starting with `.`.
 */
export function canonicalUserName(name: string): string {
  const prepared = name
    .replace(WIDE_OR_NARROW, (char) => char.normalize('NFKC'))
    .toLowerCase()
    .normalize('NFC');
  if (prepared === '') throw new InvalidMailboxNameError('empty', 'empty user name');
  if (utf8Length(prepared) > MAX_NAME_COMPONENT_OCTETS) {
    throw new InvalidMailboxNameError('too-long', `user name exceeds ${MAX_NAME_COMPONENT_OCTETS} octets`);
  }
  rejectControlCharacters(prepared);
  if (FORBIDDEN_USER_CHARACTER.test(prepared)) {
    throw new InvalidMailboxNameError(
      'forbidden-character',
      'user name contains a space, /, \\, or an invisible or unassigned character',
    );
  }
  if (prepared.startsWith('.')) {
    throw new InvalidMailboxNameError('dot-component', 'user name starts with "."');
  }
  return prepared;
}

/** The ancestors of a canonical mailbox name, outermost first: `a/b/c` gives `['a', 'a/b']`. */
export function parentNames(name: string): string[] {
  const components = name.split(MAILBOX_DELIMITER);
  return components.slice(1).map((_, i) => components.slice(0, i + 1).join(MAILBOX_DELIMITER));
}
