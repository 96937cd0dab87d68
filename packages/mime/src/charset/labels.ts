/**
 * Charset names as they appear in mail, mapped to the names this package decodes with.
 *
 * The base is the WHATWG Encoding Standard: every label `TextDecoder` accepts resolves to its
 * encoding (so `latin1`, `iso-8859-1` and `us-ascii` are WHATWG's `windows-1252`, a superset that
 * turns the C1 range into the typographic characters that mail meant). On top of that come the
 * aliases real mailers write that WHATWG does not list, plus three names of our own:
 * `us-ascii` (decoded by the UTF-8-or-windows-1252 rule, see `decodeCharset`), `utf-7`, and `utf-16`
 * (byte order from the byte order mark, else big-endian, RFC 2781 §4.3; WHATWG reads it as `utf-16le`).
 */

/** Aliases seen in mail that `TextDecoder` does not know, mapped to a label it does (or to our own names). */
const MAIL_ALIASES: ReadonlyMap<string, string> = new Map([
  ['us-ascii', 'us-ascii'],
  ['ascii', 'us-ascii'],
  ['us', 'us-ascii'],
  ['ansi_x3.4-1968', 'us-ascii'],
  ['ansi_x3.4-1986', 'us-ascii'],
  ['iso646-us', 'us-ascii'],
  ['iso_646.irv:1991', 'us-ascii'],
  ['cp367', 'us-ascii'],
  ['ibm367', 'us-ascii'],
  ['csascii', 'us-ascii'],
  ['utf-7', 'utf-7'],
  ['utf7', 'utf-7'],
  ['x-utf-7', 'utf-7'],
  ['unicode-1-1-utf-7', 'utf-7'],
  ['csunicode11utf7', 'utf-7'],
  ['utf_8', 'utf-8'],
  ['x-utf-8', 'utf-8'],
  ['latin-1', 'windows-1252'],
  ['cp932', 'shift_jis'],
  ['windows-932', 'shift_jis'],
  ['x-ms-cp932', 'shift_jis'],
  ['shift-jis', 'shift_jis'],
  ['cp936', 'gbk'],
  ['windows-936', 'gbk'],
  ['euc-cn', 'gbk'],
  ['x-euc-cn', 'gbk'],
  ['cp949', 'euc-kr'],
  ['uhc', 'euc-kr'],
  ['ks_c_5601', 'euc-kr'],
  ['euckr', 'euc-kr'],
  ['cp950', 'big5'],
  ['windows-950', 'big5'],
  ['big5hkscs', 'big5'],
  ['cp874', 'windows-874'],
  ['tis620', 'windows-874'],
  ['eucjp', 'euc-jp'],
  ['ujis', 'euc-jp'],
  ['iso-2022-jp-1', 'iso-2022-jp'],
  ['iso-2022-jp-2', 'iso-2022-jp'],
  ['iso-2022-jp-3', 'iso-2022-jp'],
  ['koi8r', 'koi8-r'],
  ['koi8u', 'koi8-u'],
  ['utf-16', 'utf-16'],
  ['utf16', 'utf-16'],
  ['iso-10646-ucs-2', 'utf-16'],
  ['ucs-2', 'utf-16le'],
  ['unicode', 'utf-16le'],
  ['csunicode', 'utf-16le'],
  ['x-mac-roman', 'macintosh'],
  ['mac-roman', 'macintosh'],
  ['macroman', 'macintosh'],
]);

/** `cp1252`, `win-1252`, `x-cp1250`, `ms-1251` … → `windows-125x`. */
const WINDOWS_CODE_PAGE = /^(?:x-)?(?:cp|win|windows|ms)[-_ ]?(125[0-8])$/;
/** `iso8859_2`, `iso_8859-2:1987`, `ISO 8859-15` … → `iso-8859-N`. */
const ISO_8859 = /^iso[-_ ]?8859[-_ ]?(\d{1,2})(?::\d{4})?$/;

/** Labels already looked up (`null`: no decoder), bounded so that invented names cannot grow it without end. */
const resolved = new Map<string, string | null>();
const MAX_CACHED = 512;

/**
 * The canonical name of a charset label as written in mail (case, spaces and quotes ignored), or
 * `undefined` when no decoder exists for it. Canonical names are WHATWG encoding names
 * (`windows-1252`, `shift_jis`, `gbk` …) plus `us-ascii`, `utf-7` and `utf-16`.
 */
export function canonicalCharset(name: string): string | undefined {
  const label = normalizeLabel(name);
  if (label === '') return undefined;
  const cached = resolved.get(label);
  if (cached !== undefined) return cached ?? undefined;
  const canonical = resolveLabel(label);
  if (resolved.size < MAX_CACHED) resolved.set(label, canonical ?? null);
  return canonical;
}

function normalizeLabel(name: string): string {
  let label = name.trim().toLowerCase();
  if (label.length >= 2 && (label[0] === '"' || label[0] === "'") && label.endsWith(label[0]!)) {
    label = label.slice(1, -1).trim();
  }
  return label;
}

function resolveLabel(label: string): string | undefined {
  const alias = MAIL_ALIASES.get(label);
  if (alias === 'us-ascii' || alias === 'utf-7' || alias === 'utf-16') return alias;
  const windows = WINDOWS_CODE_PAGE.exec(label);
  const iso = ISO_8859.exec(label);
  const candidate = alias ?? (windows ? `windows-${windows[1]}` : iso ? `iso-8859-${iso[1]}` : label);
  try {
    return new TextDecoder(candidate).encoding;
  } catch {
    return undefined;
  }
}
