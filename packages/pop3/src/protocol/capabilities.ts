/** What a CAPA response announces (RFC 2449 §6, RFC 2595, RFC 5034, RFC 6856). */
export interface Pop3Capabilities {
  /** Every capability with its arguments, names upper-cased. */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
  readonly top: boolean;
  readonly uidl: boolean;
  readonly user: boolean;
  /** The SASL mechanisms, upper-cased. */
  readonly sasl: readonly string[];
  readonly respCodes: boolean;
  readonly pipelining: boolean;
  readonly stls: boolean;
  readonly utf8: boolean;
  /** LOGIN-DELAY in seconds, when announced. */
  readonly loginDelay?: number;
  /** EXPIRE: days messages are kept after download, or `never`. */
  readonly expire?: number | 'never';
  readonly implementation?: string;
}

/** Reads the lines of a CAPA response (dot-stuffing removed, without the final `.`). */
export function parsePop3Capabilities(lines: readonly string[]): Pop3Capabilities {
  const keywords = new Map<string, string[]>();
  for (const line of lines) {
    const [name, ...args] = line.trim().split(/\s+/);
    if (!name) continue;
    keywords.set(name.toUpperCase(), [...(keywords.get(name.toUpperCase()) ?? []), ...args]);
  }
  const number = (name: string): number | undefined => {
    const value = keywords.get(name)?.[0];
    return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined;
  };
  const expire = keywords.get('EXPIRE')?.[0];
  const loginDelay = number('LOGIN-DELAY');
  const implementation = keywords.get('IMPLEMENTATION')?.join(' ');
  return {
    keywords,
    top: keywords.has('TOP'),
    uidl: keywords.has('UIDL'),
    user: keywords.has('USER'),
    sasl: (keywords.get('SASL') ?? []).map((name) => name.toUpperCase()),
    respCodes: keywords.has('RESP-CODES'),
    pipelining: keywords.has('PIPELINING'),
    stls: keywords.has('STLS'),
    utf8: keywords.has('UTF8'),
    ...(loginDelay !== undefined ? { loginDelay } : {}),
    ...(expire === undefined
      ? {}
      : expire.toUpperCase() === 'NEVER'
        ? { expire: 'never' as const }
        : number('EXPIRE') !== undefined
          ? { expire: number('EXPIRE')! }
          : {}),
    ...(implementation ? { implementation } : {}),
  };
}
