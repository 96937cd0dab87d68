import { InvalidArgumentError } from '@postwire/core';

/** What a CAPA response announces (RFC 2449 §6, RFC 2595, RFC 5034, RFC 6856). */
export interface Pop3Capabilities {
  /** Every capability with its arguments, names upper-cased. */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
  /** TOP is available. */
  readonly top: boolean;
  /** UIDL is available. */
  readonly uidl: boolean;
  /** USER/PASS login is available. */
  readonly user: boolean;
  /** The SASL mechanisms, upper-cased. */
  readonly sasl: readonly string[];
  /** Status lines may carry `[CODE]`s (RESP-CODES). */
  readonly respCodes: boolean;
  /** Commands may be sent without waiting for replies (PIPELINING). */
  readonly pipelining: boolean;
  /** STLS is offered. */
  readonly stls: boolean;
  /** UTF8 is offered (RFC 6856). */
  readonly utf8: boolean;
  /** LOGIN-DELAY in seconds, when announced. */
  readonly loginDelay?: number;
  /** EXPIRE: days messages are kept after download, or `never`. */
  readonly expire?: number | 'never';
  /** IMPLEMENTATION: the server software's name, when announced. */
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

/** The capabilities a POP3 server can announce in CAPA, each with the RFC that defines it. */
export const Pop3Capability = {
  /** The TOP command (RFC 2449 §6.1, RFC 1939). */
  Top: 'TOP',
  /** USER and PASS (RFC 2449 §6.2, RFC 1939). */
  User: 'USER',
  /** AUTH, with the SASL mechanisms as arguments (RFC 2449 §6.3, RFC 5034). */
  Sasl: 'SASL',
  /** `[CODE]` after `-ERR` (RFC 2449 §6.4). */
  RespCodes: 'RESP-CODES',
  /** Seconds a client must wait between logins (RFC 2449 §6.5). */
  LoginDelay: 'LOGIN-DELAY',
  /** The server takes commands sent without waiting for each response (RFC 2449 §6.6). */
  Pipelining: 'PIPELINING',
  /** Days messages are kept on the server, `NEVER`, or `0`: retrieved mail is deleted (RFC 2449 §6.7). */
  Expire: 'EXPIRE',
  /** The UIDL command (RFC 2449 §6.8, RFC 1939). */
  Uidl: 'UIDL',
  /** Free text naming the server's software (RFC 2449 §6.9). */
  Implementation: 'IMPLEMENTATION',
  /** STLS, TLS after the greeting (RFC 2595 §4). */
  Stls: 'STLS',
  /** `[AUTH]` and `[SYS/TEMP]`, `[SYS/PERM]` on authentication failures (RFC 3206). */
  AuthRespCode: 'AUTH-RESP-CODE',
  /** The UTF8 command; with `USER`, UTF-8 user names and passwords (RFC 6856 §2). */
  Utf8: 'UTF8',
  /** The LANG command (RFC 6856 §3). */
  Lang: 'LANG',
} as const;

/**
 * Writes the lines of a CAPA response (without the status line and the final `.`), each a capability
 * name and its arguments.
 * @throws InvalidArgumentError for a name or argument that is not one word of printable ASCII.
 */
export function serializePop3Capabilities(
  capabilities: readonly (readonly [name: string, args?: readonly string[]])[],
): string[] {
  return capabilities.map(([name, args = []]) => {
    for (const word of [name, ...args]) {
      if (!/^[\x21-\x7e]+$/.test(word))
        throw new InvalidArgumentError(`${JSON.stringify(word)} cannot be sent in CAPA`);
    }
    return [name, ...args].join(' ');
  });
}
