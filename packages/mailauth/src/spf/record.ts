import { parseIp4, parseIp6 } from './ip-address.js';
import { formatMacroString, parseDomainSpec, parseMacroString, type SpfMacroToken } from './macro.js';

/** A directive's qualifier (RFC 7208 §4.6.2): pass, fail, softfail, neutral. */
export type SpfQualifier = '+' | '-' | '~' | '?';

/** A mechanism (RFC 7208 §5), its name lower-cased; domain-specs as macro tokens. */
export type SpfMechanism =
  | {
      /** `all`: always matches. */
      readonly kind: 'all';
    }
  | {
      /** `include` (another domain's record passes) or `exists` (the name has an A record). */
      readonly kind: 'include' | 'exists';
      /** The domain-spec. */
      readonly domainSpec: readonly SpfMacroToken[];
    }
  | {
      /** The sender's address is one of the domain's A/AAAA or MX hosts' addresses. */
      readonly kind: 'a' | 'mx';
      /** Absent: the current domain. */
      readonly domainSpec?: readonly SpfMacroToken[];
      /** `/n`, 0–32, for the IPv4 addresses found; absent: 32. */
      readonly ip4PrefixLength?: number;
      /** `//n`, 0–128, for the IPv6 addresses found; absent: 128. */
      readonly ip6PrefixLength?: number;
    }
  | {
      /** `ptr`: the sender's validated host name is in the domain (deprecated). */
      readonly kind: 'ptr';
      /** Absent: the current domain. */
      readonly domainSpec?: readonly SpfMacroToken[];
    }
  | {
      /** The sender's address is in the given network. */
      readonly kind: 'ip4' | 'ip6';
      /** The address as written, checked (RFC 7208 §5.6). */
      readonly address: string;
      /** `/n`: 0–32 for `ip4`, 0–128 for `ip6`; absent: the whole address. */
      readonly prefixLength?: number;
    };

/** A term of an SPF record (RFC 7208 §4.6.1), in the order written. */
export type SpfTerm =
  | {
      /** A directive. */
      readonly type: 'directive';
      /** The result when the mechanism matches. */
      readonly qualifier: SpfQualifier;
      /** The mechanism. */
      readonly mechanism: SpfMechanism;
    }
  /** `redirect=`, `exp=` (domain-specs) or an unknown modifier (a macro-string), its name as written. */
  | {
      /** A modifier. */
      readonly type: 'modifier';
      /** The modifier's name, as written. */
      readonly name: string;
      /** Its value, as macro tokens. */
      readonly value: readonly SpfMacroToken[];
    };

/** A checked SPF record. */
export interface SpfRecord {
  /** Every term, unknown modifiers included, in order. */
  readonly terms: readonly SpfTerm[];
  /** `redirect=`: the domain-spec whose record applies when no directive matches. */
  readonly redirect?: readonly SpfMacroToken[];
  /** `exp=`: the domain-spec of the TXT record explaining a `fail`. */
  readonly explanation?: readonly SpfMacroToken[];
}

/** A checked SPF record, or why it is malformed (a `permerror`). */
export type SpfRecordParse =
  | {
      /** The record was read. */
      readonly ok: true;
      /** The record. */
      readonly record: SpfRecord;
    }
  | {
      /** The record is malformed. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const VERSION = /^v=spf1(?: |$)/i;
const MODIFIER_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const QUALIFIERS = '+-~?';

/**
 * Whether a TXT record's text is an SPF record: it starts with `v=spf1` (any case) followed by SP or
 * its end (RFC 7208 §4.5). Other records are not SPF records and are skipped, not errors.
 */
export function isSpfRecord(text: string): boolean {
  return VERSION.test(text);
}

/**
 * Parses an SPF record (RFC 7208 §4.6, §5, §6, §7.1): `v=spf1`, then terms separated by SP. Unknown
 * mechanisms, malformed addresses, prefix lengths, domain-specs and macros, and a repeated `redirect=`
 * or `exp=` are errors; unknown modifiers are kept. Never throws.
 */
export function parseSpfRecord(text: string): SpfRecordParse {
  if (!isSpfRecord(text)) return fail('not an SPF record');
  const terms: SpfTerm[] = [];
  let redirect: readonly SpfMacroToken[] | undefined;
  let explanation: readonly SpfMacroToken[] | undefined;
  for (const word of text.slice('v=spf1'.length).split(' ')) {
    if (word === '') continue;
    const term = parseTerm(word);
    if (typeof term === 'string') return fail(`${term} in "${word}"`);
    if (term.type === 'modifier') {
      const name = term.name.toLowerCase();
      if (name === 'redirect' || name === 'exp') {
        if ((name === 'redirect' ? redirect : explanation) !== undefined) {
          return fail(`duplicate modifier "${name}"`);
        }
        if (name === 'redirect') redirect = term.value;
        else explanation = term.value;
      }
    }
    terms.push(term);
  }
  return {
    ok: true,
    record: {
      terms,
      ...(redirect === undefined ? {} : { redirect }),
      ...(explanation === undefined ? {} : { explanation }),
    },
  };
}

/** Writes a record as `v=spf1` and its terms, one SP apart, omitting `+`; parsing it gives the same record. */
export function formatSpfRecord(record: SpfRecord): string {
  return ['v=spf1', ...record.terms.map(formatTerm)].join(' ');
}

/** A term, or why it is malformed. */
function parseTerm(word: string): SpfTerm | string {
  const equals = word.indexOf('=');
  if (equals > 0 && MODIFIER_NAME.test(word.slice(0, equals))) {
    const name = word.slice(0, equals);
    const known = /^(?:redirect|exp)$/i.test(name);
    const value = (known ? parseDomainSpec : parseMacroString)(word.slice(equals + 1));
    return value.ok ? { type: 'modifier', name, value: value.tokens } : value.reason;
  }
  const qualified = QUALIFIERS.includes(word[0]!);
  const body = qualified ? word.slice(1) : word;
  let end = 0;
  while (end < body.length && /[A-Za-z0-9]/.test(body[end]!)) end++;
  const mechanism = parseMechanism(body.slice(0, end).toLowerCase(), body.slice(end));
  if (typeof mechanism === 'string') return mechanism;
  return { type: 'directive', qualifier: qualified ? (word[0] as SpfQualifier) : '+', mechanism };
}

/** A mechanism from its lower-cased name and what follows it, or why it is malformed. */
function parseMechanism(name: string, rest: string): SpfMechanism | string {
  switch (name) {
    case 'all':
      return rest === '' ? { kind: 'all' } : 'invalid term';
    case 'include':
    case 'exists': {
      if (!rest.startsWith(':')) return `missing domain-spec after "${name}"`;
      const domainSpec = parseDomainSpec(rest.slice(1));
      return domainSpec.ok ? { kind: name, domainSpec: domainSpec.tokens } : domainSpec.reason;
    }
    case 'ptr': {
      const domainSpec = readOptionalDomainSpec(rest);
      return typeof domainSpec === 'string' ? domainSpec : { kind: 'ptr', ...domainSpec };
    }
    case 'a':
    case 'mx': {
      const ip6 = splitPrefixLength(rest, '//', 128);
      if (typeof ip6 === 'string') return ip6;
      const ip4 = splitPrefixLength(ip6.text, '/', 32);
      if (typeof ip4 === 'string') return ip4;
      const domainSpec = readOptionalDomainSpec(ip4.text);
      if (typeof domainSpec === 'string') return domainSpec;
      return {
        kind: name,
        ...domainSpec,
        ...(ip4.length === undefined ? {} : { ip4PrefixLength: ip4.length }),
        ...(ip6.length === undefined ? {} : { ip6PrefixLength: ip6.length }),
      };
    }
    case 'ip4':
    case 'ip6': {
      if (!rest.startsWith(':')) return `missing address after "${name}"`;
      const network = splitPrefixLength(rest.slice(1), '/', name === 'ip4' ? 32 : 128);
      if (typeof network === 'string') return network;
      const valid = name === 'ip4' ? parseIp4(network.text) : parseIp6(network.text);
      if (valid === undefined) return `invalid ${name === 'ip4' ? 'IPv4' : 'IPv6'} address "${network.text}"`;
      return {
        kind: name,
        address: network.text,
        ...(network.length === undefined ? {} : { prefixLength: network.length }),
      };
    }
    case '':
      return 'invalid term';
    default:
      return `unknown mechanism "${name}"`;
  }
}

/** Nothing, or `:` and a domain-spec; or why it is malformed. */
function readOptionalDomainSpec(rest: string): { domainSpec?: readonly SpfMacroToken[] } | string {
  if (rest === '') return {};
  if (!rest.startsWith(':')) return 'invalid term';
  const domainSpec = parseDomainSpec(rest.slice(1));
  return domainSpec.ok ? { domainSpec: domainSpec.tokens } : domainSpec.reason;
}

/**
 * Splits a prefix length (`/n` or `//n`; n is 0 or has no leading zero) off the end of `text`; a
 * length above `max` is an error.
 */
function splitPrefixLength(
  text: string,
  slashes: string,
  max: number,
): { text: string; length?: number } | string {
  let start = text.length;
  while (start > 0 && text.charCodeAt(start - 1) >= 0x30 && text.charCodeAt(start - 1) <= 0x39) start--;
  const digits = text.slice(start);
  const before = text.slice(0, start);
  if (digits === '' || !before.endsWith(slashes) || (digits.length > 1 && digits.startsWith('0'))) {
    return { text };
  }
  // `/n` must not be the end of `//n`.
  if (slashes === '/' && before.endsWith('//')) return { text };
  const length = Number(digits);
  if (length > max) return `invalid prefix length "${slashes}${digits}"`;
  return { text: before.slice(0, -slashes.length), length };
}

function formatTerm(term: SpfTerm): string {
  if (term.type === 'modifier') return `${term.name}=${formatMacroString(term.value)}`;
  const qualifier = term.qualifier === '+' ? '' : term.qualifier;
  return qualifier + formatMechanism(term.mechanism);
}

function formatMechanism(mechanism: SpfMechanism): string {
  switch (mechanism.kind) {
    case 'all':
      return 'all';
    case 'ip4':
    case 'ip6':
      return `${mechanism.kind}:${mechanism.address}${mechanism.prefixLength === undefined ? '' : `/${mechanism.prefixLength}`}`;
    case 'a':
    case 'mx': {
      const ip4 = mechanism.ip4PrefixLength === undefined ? '' : `/${mechanism.ip4PrefixLength}`;
      const ip6 = mechanism.ip6PrefixLength === undefined ? '' : `//${mechanism.ip6PrefixLength}`;
      return `${mechanism.kind}${formatDomainSpec(mechanism.domainSpec)}${ip4}${ip6}`;
    }
    default:
      return `${mechanism.kind}${formatDomainSpec(mechanism.domainSpec)}`;
  }
}

function formatDomainSpec(domainSpec: readonly SpfMacroToken[] | undefined): string {
  return domainSpec === undefined ? '' : `:${formatMacroString(domainSpec)}`;
}

function fail(reason: string): SpfRecordParse {
  return { ok: false, reason };
}
