import { InvalidArgumentError } from '@postwire/core';

/** Inclusive code point ranges. */
type Ranges = readonly (readonly [number, number])[];

/** RFC 3454 B.1: characters commonly mapped to nothing. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: a table of code points, each removed on its own.
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;

/** RFC 3454 C.1.2: non-ASCII space characters, mapped to SPACE by RFC 4013 §2.1. */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;

/** RFC 3454 C.1.2 and C.2.1–C.9: what SASLprep output must not contain (RFC 4013 §2.3). */
const PROHIBITED: Ranges = [
  [0x0000, 0x001f],
  [0x007f, 0x00a0],
  [0x0340, 0x0341],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x1680, 0x1680],
  [0x180e, 0x180e],
  [0x2000, 0x200f],
  [0x2028, 0x202f],
  [0x205f, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0x3000, 0x3000],
  [0xd800, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffd],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  [0xf0000, 0xffffd],
  [0x100000, 0x10fffd],
];

/** RFC 3454 D.1: characters with bidirectional property R or AL. */
const RAND_AL_CAT: Ranges = [
  [0x05be, 0x05be],
  [0x05c0, 0x05c0],
  [0x05c3, 0x05c3],
  [0x05d0, 0x05ea],
  [0x05f0, 0x05f4],
  [0x061b, 0x061b],
  [0x061f, 0x061f],
  [0x0621, 0x063a],
  [0x0640, 0x064a],
  [0x066d, 0x066f],
  [0x0671, 0x06d5],
  [0x06dd, 0x06dd],
  [0x06e5, 0x06e6],
  [0x06fa, 0x06fe],
  [0x0700, 0x070d],
  [0x0710, 0x0710],
  [0x0712, 0x072c],
  [0x0780, 0x07a5],
  [0x07b1, 0x07b1],
  [0x200f, 0x200f],
  [0xfb1d, 0xfb1d],
  [0xfb1f, 0xfb28],
  [0xfb2a, 0xfb36],
  [0xfb38, 0xfb3c],
  [0xfb3e, 0xfb3e],
  [0xfb40, 0xfb41],
  [0xfb43, 0xfb44],
  [0xfb46, 0xfbb1],
  [0xfbd3, 0xfd3d],
  [0xfd50, 0xfd8f],
  [0xfd92, 0xfdc7],
  [0xfdf0, 0xfdfc],
  [0xfe70, 0xfe74],
  [0xfe76, 0xfefc],
];

/**
 * RFC 3454 D.2 (bidirectional property L), approximated by the letters and spacing marks of
 * left-to-right scripts: D.2 is essentially that set, and a 360-range table would add nothing
 * a SASL name or password can tell apart.
 */
const LEFT_TO_RIGHT = /[\p{L}\p{Mc}]/u;
const RIGHT_TO_LEFT_SCRIPT =
  /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]/u;

/** Code points unassigned in the runtime's Unicode version (the closest web-standard view of RFC 3454 A.1). */
const UNASSIGNED = /\p{Cn}/u;

/** Options of {@link saslprep}. */
export interface SaslprepOptions {
  /**
   * Allow unassigned code points, as for a "query" string (RFC 3454 §7). Default `true`;
   * pass `false` when preparing a string to be stored.
   */
  allowUnassigned?: boolean;
}

/**
 * Prepares a user name or password with the SASLprep profile of stringprep (RFC 4013): maps
 * non-ASCII spaces to SPACE and drops the "mapped to nothing" characters, applies NFKC, then
 * rejects prohibited characters and strings that break the bidirectional rules (RFC 3454 §6).
 * Throws {@link InvalidArgumentError}; the message never contains the input.
 */
export function saslprep(input: string, options: SaslprepOptions = {}): string {
  const mapped = input.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '');
  const normalized = mapped.normalize('NFKC');
  const allowUnassigned = options.allowUnassigned ?? true;
  let hasRandAL = false;
  let hasL = false;
  for (const char of normalized) {
    const codePoint = char.codePointAt(0)!;
    if (inRanges(codePoint, PROHIBITED) || (codePoint & 0xfffe) === 0xfffe) {
      throw new InvalidArgumentError('SASLprep: the string contains a prohibited character');
    }
    if (!allowUnassigned && UNASSIGNED.test(char)) {
      throw new InvalidArgumentError('SASLprep: the string contains an unassigned code point');
    }
    if (inRanges(codePoint, RAND_AL_CAT)) hasRandAL = true;
    else if (LEFT_TO_RIGHT.test(char) && !RIGHT_TO_LEFT_SCRIPT.test(char)) hasL = true;
  }
  if (hasRandAL && (hasL || !isRandAL(normalized.codePointAt(0)) || !isRandAL(lastCodePoint(normalized)))) {
    throw new InvalidArgumentError('SASLprep: the string violates the bidirectional rules');
  }
  return normalized;
}

function isRandAL(codePoint: number | undefined): boolean {
  return codePoint !== undefined && inRanges(codePoint, RAND_AL_CAT);
}

function lastCodePoint(text: string): number | undefined {
  return Array.from(text).at(-1)?.codePointAt(0);
}

function inRanges(codePoint: number, ranges: Ranges): boolean {
  for (const [start, end] of ranges) {
    if (codePoint < start) return false;
    if (codePoint <= end) return true;
  }
  return false;
}
