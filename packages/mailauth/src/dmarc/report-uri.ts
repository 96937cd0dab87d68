import { trimFoldingSpace } from '../message/white-space.js';
/** A reporting address of `rua=` or `ruf=` (RFC 7489 §6.2), as written and read. */
export interface DmarcReportUri {
  /** The URI as written, without its `!size` suffix. */
  readonly uri: string;
  /** The URI scheme, lower-cased (`mailto`, `https` …). Only `mailto` is understood; others are kept. */
  readonly scheme: string;
  /** For a `mailto:` URI, the address it names, percent-decoded, without any `?` header fields. */
  readonly address?: string;
  /** The `!size` limit in bytes (`k`, `m`, `g`, `t` are powers of 2^10); absent: no limit. */
  readonly maxSize?: number;
}

const UNIT_SHIFT: Readonly<Record<string, number>> = { '': 0, k: 10, m: 20, g: 30, t: 40 };

/**
 * Reads a `rua=`/`ruf=` value: URIs separated by `,` with optional white space, each with an
 * optional `!` size limit. Returns the valid URIs and whether any item was not one (and was dropped).
 */
export function parseReportUris(value: string): {
  /** The valid URIs, in order. */
  readonly uris: readonly DmarcReportUri[];
  /** True when an item was not a valid URI and was dropped. */
  readonly dropped: boolean;
} {
  const uris: DmarcReportUri[] = [];
  let dropped = false;
  for (const item of value.split(',')) {
    const uri = parseReportUri(trimFoldingSpace(item));
    if (uri === undefined) dropped = true;
    else uris.push(uri);
  }
  return { uris, dropped };
}

/** One `dmarc-uri`, or `undefined` when it is not a URI with a scheme and a valid size suffix. */
function parseReportUri(item: string): DmarcReportUri | undefined {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):([\x21-\x7e]+?)(?:!([0-9]+)([kmgtKMGT]?))?$/.exec(item);
  if (match === null) return undefined;
  const [, rawScheme, rest, digits, unit] = match as unknown as [string, string, string, string?, string?];
  if (rest.includes('!')) return undefined;
  const scheme = rawScheme.toLowerCase();
  const uri = `${rawScheme}:${rest}`;
  let maxSize: number | undefined;
  if (digits !== undefined) {
    maxSize = Number(digits) * 2 ** UNIT_SHIFT[unit!.toLowerCase()]!;
    if (!Number.isSafeInteger(maxSize)) return undefined;
  }
  let address: string | undefined;
  if (scheme === 'mailto') {
    address = percentDecode(rest.split('?', 1)[0]!);
    if (address === undefined || !/^[^@]+@[^@]+$/.test(address)) return undefined;
  }
  return {
    uri,
    scheme,
    ...(address === undefined ? {} : { address }),
    ...(maxSize === undefined ? {} : { maxSize }),
  };
}

/** `text` with its `%XX` escapes decoded as UTF-8, or `undefined` when they are malformed. */
function percentDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
