import { type DnsLookup, type DnsRecordType, type DnsResolver, joinTxt, lookupDns } from '../dns/resolver.js';
import { parseIp4, parseIp6 } from './ip-address.js';
import {
  expandMacros,
  parseMacroString,
  type SpfMacroContext,
  type SpfMacroExpansion,
  type SpfMacroToken,
  truncateDomain,
} from './macro.js';
import {
  formatSpfRecord,
  isSpfRecord,
  parseSpfRecord,
  type SpfMechanism,
  type SpfQualifier,
  type SpfRecord,
  type SpfTerm,
} from './record.js';

/** The result of an SPF check (RFC 7208 §2.6, §8). */
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';

/** The processing limits of one SPF check (RFC 7208 §4.6.4); going over one gives `permerror`. */
export interface SpfLimits {
  /** DNS-querying terms (include, a, mx, ptr, exists, redirect), RFC 7208 §4.6.4 (default 10). */
  lookups: number;
  /** Lookups that return no records (NODATA/NXDOMAIN), at most one per term (default 2). */
  voidLookups: number;
  /** Names looked up per mx / ptr term (default 10): more MX names is a `permerror`, further PTR names are ignored. */
  namesPerTerm: number;
}

/** The limits RFC 7208 §4.6.4 asks for: 10 DNS-querying terms, 2 void lookups, 10 names per mx or ptr term. */
export const defaultSpfLimits: Readonly<SpfLimits> = Object.freeze({
  lookups: 10,
  voidLookups: 2,
  namesPerTerm: 10,
});

/** Options of {@link checkSpf}. */
export interface SpfCheckOptions {
  /** The SMTP client's IP address (IPv4 dotted quad or IPv6; IPv4-mapped IPv6 treated as IPv4). */
  ip: string;
  /** RFC5321.MailFrom address without angle brackets; `''` for the null reverse-path. */
  sender: string;
  /** The HELO/EHLO name. */
  helo: string;
  /** Where the DNS answers come from. */
  resolver: DnsResolver;
  /** The checking host's domain for the `%{r}` macro (default `unknown`). */
  receiver?: string;
  /** Clock for `%{t}`, ms since epoch (default `Date.now`). */
  now?: () => number;
  /** Limits other than {@link defaultSpfLimits}. */
  limits?: Partial<SpfLimits>;
}

/** What an SPF check found. */
export interface SpfCheck {
  /** The SPF result. */
  result: SpfResult;
  /** Which identity was checked: `mailfrom`, or `helo` when the sender was empty. */
  identity: 'mailfrom' | 'helo';
  /** The domain check_host() started from. */
  domain: string;
  /** The identity as checked, local@domain (`postmaster@<helo>` for the HELO identity / empty sender / no local part). */
  sender: string;
  /** The directive that matched, as text (e.g. `-all`, `include:_spf.example.com`), when one did. */
  mechanism?: string;
  /** On fail: the expanded exp= explanation when one was found and valid. */
  explanation?: string;
  /** Why, for none/neutral-by-default/temperror/permerror (human readable). */
  reason?: string;
  /** DNS-querying terms used. */
  lookups: number;
  /** Void lookups seen. */
  voidLookups: number;
}

/** The SMTP client's address, an IPv4-mapped IPv6 address as IPv4 (RFC 7208 §5). */
interface Client {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  /** The dotted quad, or the RFC 5952 text, for the macros. */
  readonly text: string;
}

/** One check, shared by every record that include and redirect lead to. */
interface Evaluation {
  readonly options: Omit<SpfCheckOptions, 'sender'>;
  readonly limits: SpfLimits;
  readonly client: Client;
  /** The macro values of the check; `domain` changes with each record. */
  readonly macros: SpfMacroContext;
  lookups: number;
  voidLookups: number;
}

/** What one record gave. */
interface Outcome {
  readonly result: SpfResult;
  readonly mechanism?: string;
  readonly explanation?: string;
  readonly reason?: string;
}

/** Ends the whole check with `temperror` or `permerror`, however deep in include and redirect. */
class SpfAbort extends Error {
  readonly result: 'temperror' | 'permerror';

  constructor(result: 'temperror' | 'permerror', reason: string) {
    super(reason);
    this.result = result;
  }
}

const QUALIFIER_RESULTS: Readonly<Record<SpfQualifier, SpfResult>> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;

/**
 * Checks the MAIL FROM identity (or the HELO identity when the sender is empty) with check_host()
 * (RFC 7208 §4): the client's IP address against the SPF record of the sender's domain. A sender
 * without a local part is `postmaster@domain`. Never throws: DNS failures are `temperror`.
 */
export function checkSpf(options: SpfCheckOptions): Promise<SpfCheck> {
  if (options.sender === '') return check(options, 'helo', 'postmaster', options.helo);
  const at = options.sender.lastIndexOf('@');
  const localPart = at > 0 ? options.sender.slice(0, at) : 'postmaster';
  return check(options, 'mailfrom', localPart, options.sender.slice(at + 1));
}

/** Checks the HELO identity alone (RFC 7208 §2.3), as `postmaster@<helo>`. Never throws. */
export function checkSpfHelo(options: Omit<SpfCheckOptions, 'sender'>): Promise<SpfCheck> {
  return check(options, 'helo', 'postmaster', options.helo);
}

/** Runs check_host() from the identity's domain and reports it, turning whatever ended it into a result. */
async function check(
  options: Omit<SpfCheckOptions, 'sender'>,
  identity: SpfCheck['identity'],
  localPart: string,
  name: string,
): Promise<SpfCheck> {
  const domain = withoutTrailingDot(name);
  const sender = `${localPart}@${domain}`;
  const client = parseClient(options.ip);
  if (client === undefined) {
    const reason = `the client address "${options.ip}" is not an IP address`;
    return { result: 'permerror', reason, identity, domain, sender, lookups: 0, voidLookups: 0 };
  }
  const evaluation: Evaluation = {
    options,
    limits: {
      lookups: options.limits?.lookups ?? defaultSpfLimits.lookups,
      voidLookups: options.limits?.voidLookups ?? defaultSpfLimits.voidLookups,
      namesPerTerm: options.limits?.namesPerTerm ?? defaultSpfLimits.namesPerTerm,
    },
    client,
    macros: { sender, localPart, senderDomain: domain, domain, ip: client.text, helo: options.helo },
    lookups: 0,
    voidLookups: 0,
  };
  let outcome: Outcome;
  try {
    outcome = await checkHost(evaluation, domain, true);
  } catch (error) {
    outcome =
      error instanceof SpfAbort
        ? { result: error.result, reason: error.message }
        : {
            result: 'temperror',
            reason: `the check failed: ${error instanceof Error ? error.message : error}`,
          };
  }
  const { lookups, voidLookups } = evaluation;
  return { ...outcome, identity, domain, sender, lookups, voidLookups };
}

/**
 * check_host() (RFC 7208 §4) for `domain`: the first directive that matches gives the result, else
 * `redirect=`, else `neutral`. `explain` fetches the `exp=` explanation of a `fail` (not for include).
 */
async function checkHost(evaluation: Evaluation, domain: string, explain: boolean): Promise<Outcome> {
  if (!isDomainName(domain)) return { result: 'none', reason: `"${domain}" is not a valid domain name` };
  const record = await fetchRecord(evaluation, domain);
  if (record === undefined) return { result: 'none', reason: `no SPF record at ${domain}` };
  const context: SpfMacroContext = { ...evaluation.macros, domain };
  for (const term of record.terms) {
    if (term.type !== 'directive' || !(await matches(evaluation, term.mechanism, context))) continue;
    const result = QUALIFIER_RESULTS[term.qualifier];
    const explanation =
      result === 'fail' && explain && record.explanation !== undefined
        ? await explanationOf(evaluation, record.explanation, context)
        : undefined;
    return {
      result,
      mechanism: formatDirective(term),
      ...(explanation === undefined ? {} : { explanation }),
    };
  }
  if (record.redirect === undefined) {
    return { result: 'neutral', reason: `no directive of ${domain} matched` };
  }
  countLookup(evaluation);
  const target = await targetName(evaluation, record.redirect, context);
  const outcome = await checkHost(evaluation, target, explain);
  if (outcome.result === 'none') throw new SpfAbort('permerror', `redirect=${target}: ${outcome.reason}`);
  return outcome;
}

/** The one SPF record among `domain`'s TXT records (RFC 7208 §4.4, §4.5), parsed; `undefined` when there is none. */
async function fetchRecord(evaluation: Evaluation, domain: string): Promise<SpfRecord | undefined> {
  const found = await lookupDns(evaluation.options.resolver, 'txt', domain);
  if (found.status === 'error') throw new SpfAbort('temperror', found.reason);
  const texts = found.status === 'found' ? joinTxt(found.records).filter(isSpfRecord) : [];
  if (texts.length > 1) throw new SpfAbort('permerror', `${texts.length} SPF records at ${domain}`);
  if (texts.length === 0) return undefined;
  const parsed = parseSpfRecord(texts[0]!);
  if (!parsed.ok) throw new SpfAbort('permerror', `invalid SPF record at ${domain}: ${parsed.reason}`);
  return parsed.record;
}

/** Whether a mechanism matches the client (RFC 7208 §5). */
async function matches(
  evaluation: Evaluation,
  mechanism: SpfMechanism,
  context: SpfMacroContext,
): Promise<boolean> {
  const { client } = evaluation;
  switch (mechanism.kind) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6': {
      if (client.family !== (mechanism.kind === 'ip4' ? 4 : 6)) return false;
      const network = (mechanism.kind === 'ip4' ? parseIp4 : parseIp6)(mechanism.address)!;
      return inNetwork(client.bytes, network, mechanism.prefixLength ?? network.length * 8);
    }
  }
  countLookup(evaluation);
  const target = await targetName(evaluation, mechanism.domainSpec, context);
  switch (mechanism.kind) {
    case 'include': {
      // RFC 7208 §5.2: errors end the check (thrown), none is a permerror, only pass matches.
      const outcome = await checkHost(evaluation, target, false);
      if (outcome.result === 'none') throw new SpfAbort('permerror', `include:${target}: ${outcome.reason}`);
      return outcome.result === 'pass';
    }
    case 'exists':
      return recordsOf(evaluation, await query(evaluation, 'a', target)).length > 0;
    case 'ptr':
      return (await validatedNames(evaluation, (name) => isWithin(name, target), true)).length > 0;
    case 'a': {
      const addresses = recordsOf(evaluation, await queryAddresses(evaluation, target));
      return anyInNetwork(client, addresses, prefixLength(client, mechanism));
    }
    case 'mx': {
      const exchanges = recordsOf(evaluation, await query(evaluation, 'mx', target))
        .map((mx) => withoutTrailingDot(mx.exchange))
        .filter((name) => name !== '');
      if (exchanges.length > evaluation.limits.namesPerTerm) {
        throw new SpfAbort('permerror', `more than ${evaluation.limits.namesPerTerm} MX names at ${target}`);
      }
      const lookups = await Promise.all(exchanges.map((name) => queryAddresses(evaluation, name)));
      const bits = prefixLength(client, mechanism);
      return lookups.some((found) => anyInNetwork(client, recordsOf(evaluation, found, false), bits));
    }
  }
}

/** Counts a DNS-querying term, or ends the check when there would be too many (RFC 7208 §4.6.4). */
function countLookup(evaluation: Evaluation): void {
  if (evaluation.lookups >= evaluation.limits.lookups) {
    throw new SpfAbort('permerror', `more than ${evaluation.limits.lookups} DNS-querying terms`);
  }
  evaluation.lookups++;
}

/**
 * The records a lookup found. A DNS failure ends the check with `temperror` (RFC 7208 §5); no
 * records is a void lookup when `counted`, and one too many ends it with `permerror` (§4.6.4).
 */
function recordsOf<T>(evaluation: Evaluation, found: DnsLookup<T>, counted = true): readonly T[] {
  if (found.status === 'error') throw new SpfAbort('temperror', found.reason);
  if (found.status === 'found' && found.records.length > 0) return found.records;
  if (counted && ++evaluation.voidLookups > evaluation.limits.voidLookups) {
    throw new SpfAbort('permerror', `more than ${evaluation.limits.voidLookups} void DNS lookups`);
  }
  return [];
}

/** Asks for `type` records of `name`; a name DNS cannot carry (RFC 7208 §4.3) does not exist. */
function query<K extends DnsRecordType>(
  evaluation: Evaluation,
  type: K,
  name: string,
): ReturnType<typeof lookupDns<K>> {
  if (!isDnsName(name)) return Promise.resolve({ status: 'nxdomain' });
  return lookupDns(evaluation.options.resolver, type, name);
}

/** The addresses of `name` in the client's family: A records for IPv4, AAAA for IPv6 (RFC 7208 §5). */
function queryAddresses(evaluation: Evaluation, name: string): Promise<DnsLookup<string>> {
  return query(evaluation, evaluation.client.family === 4 ? 'a' : 'aaaa', name);
}

/**
 * The client's validated domain names (RFC 7208 §5.5): of its first `namesPerTerm` PTR names, those
 * that `accept` takes and whose addresses include the client. A failed lookup validates nothing; no
 * PTR records is a void lookup when `counted`.
 */
async function validatedNames(
  evaluation: Evaluation,
  accept: (name: string) => boolean,
  counted: boolean,
): Promise<string[]> {
  const found = await query(evaluation, 'ptr', reverseName(evaluation.client));
  if (found.status === 'error') return [];
  const names = recordsOf(evaluation, found, counted)
    .slice(0, evaluation.limits.namesPerTerm)
    .map(withoutTrailingDot)
    .filter(accept);
  const lookups = await Promise.all(names.map((name) => queryAddresses(evaluation, name)));
  const bits = evaluation.client.bytes.length * 8;
  return names.filter((_, i) => {
    const addresses = lookups[i]!;
    return addresses.status === 'found' && anyInNetwork(evaluation.client, addresses.records, bits);
  });
}

/**
 * The `%{p}` value (RFC 7208 §7.3): `domain` itself when validated, else a validated subdomain of it,
 * else any validated name, else `unknown`.
 */
async function validatedDomain(evaluation: Evaluation, domain: string): Promise<string> {
  const names = await validatedNames(evaluation, () => true, false);
  const exact = names.find((name) => name.toLowerCase() === domain.toLowerCase());
  return exact ?? names.find((name) => isWithin(name, domain)) ?? names[0] ?? 'unknown';
}

/** Expands macros, finding `%{p}` only when the string has one. */
async function expand(
  evaluation: Evaluation,
  tokens: readonly SpfMacroToken[],
  context: SpfMacroContext,
  exp = false,
): Promise<SpfMacroExpansion> {
  const p = tokens.some((token) => token.kind === 'macro' && token.letter === 'p');
  const values = p
    ? { ...context, validatedDomain: await validatedDomain(evaluation, context.domain) }
    : context;
  return expandMacros(tokens, values, { exp });
}

/**
 * The name a term looks up: its domain-spec expanded, without a trailing dot, shortened to 253
 * characters (RFC 7208 §7.3); the current domain when it has none. A macro error is a `permerror`.
 */
async function targetName(
  evaluation: Evaluation,
  domainSpec: readonly SpfMacroToken[] | undefined,
  context: SpfMacroContext,
): Promise<string> {
  if (domainSpec === undefined) return context.domain;
  const expanded = await expand(evaluation, domainSpec, context);
  if (!expanded.ok) throw new SpfAbort('permerror', expanded.reason);
  return truncateDomain(withoutTrailingDot(expanded.value));
}

/**
 * The `exp=` explanation (RFC 7208 §6.2): the one TXT record of the expanded domain-spec, expanded as
 * an explain-string. Anything amiss gives no explanation, never an error, and no lookup is counted.
 */
async function explanationOf(
  evaluation: Evaluation,
  domainSpec: readonly SpfMacroToken[],
  context: SpfMacroContext,
): Promise<string | undefined> {
  const name = await expand(evaluation, domainSpec, context);
  if (!name.ok) return undefined;
  const found = await query(evaluation, 'txt', truncateDomain(withoutTrailingDot(name.value)));
  if (found.status !== 'found' || found.records.length !== 1) return undefined;
  const text = parseMacroString(joinTxt(found.records)[0]!, { explanation: true });
  if (!text.ok) return undefined;
  const { receiver, now = Date.now } = evaluation.options;
  const explanation = await expand(
    evaluation,
    text.tokens,
    { ...context, receiver, timestamp: now() / 1000 },
    true,
  );
  return explanation.ok ? explanation.value : undefined;
}

function parseClient(ip: string): Client | undefined {
  const ip4 = parseIp4(ip);
  if (ip4 !== undefined) return { family: 4, bytes: ip4, text: ip };
  const ip6 = parseIp6(ip);
  if (ip6 === undefined) return undefined;
  if (ip6.subarray(0, 10).every((byte) => byte === 0) && ip6[10] === 0xff && ip6[11] === 0xff) {
    const bytes = ip6.slice(12);
    return { family: 4, bytes, text: bytes.join('.') };
  }
  // The WHATWG URL serializer writes IPv6 hosts as RFC 5952 asks: lower case, longest zero run as `::`.
  return { family: 6, bytes: ip6, text: new URL(`http://[${ip}]`).hostname.slice(1, -1) };
}

/** The `in-addr.arpa` or `ip6.arpa` name of the client's PTR records. */
function reverseName(client: Client): string {
  const parts =
    client.family === 4
      ? Array.from(client.bytes, String)
      : Array.from(client.bytes).flatMap((byte) => [(byte >> 4).toString(16), (byte & 0xf).toString(16)]);
  return `${parts.reverse().join('.')}.${client.family === 4 ? 'in-addr' : 'ip6'}.arpa`;
}

/** The prefix length an a or mx term compares the client's family with. */
function prefixLength(
  client: Client,
  mechanism: { ip4PrefixLength?: number; ip6PrefixLength?: number },
): number {
  return client.family === 4 ? (mechanism.ip4PrefixLength ?? 32) : (mechanism.ip6PrefixLength ?? 128);
}

/** Whether an address record in the client's family is in the client's network of `bits`. */
function anyInNetwork(client: Client, addresses: readonly string[], bits: number): boolean {
  return addresses.some((text) => {
    const address = client.family === 4 ? parseIp4(text) : parseIp6(text);
    return address !== undefined && inNetwork(client.bytes, address, bits);
  });
}

/** Whether the first `bits` bits of two addresses of one family are the same. */
function inNetwork(address: Uint8Array, network: Uint8Array, bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = (0xff << Math.max(0, 8 - bits)) & 0xff;
    if (((address[i]! ^ network[i]!) & mask) !== 0) return false;
  }
  return true;
}

/** Whether `name` is `domain` or a subdomain of it, case ignored. */
function isWithin(name: string, domain: string): boolean {
  const lower = name.toLowerCase();
  const suffix = domain.toLowerCase();
  return lower === suffix || lower.endsWith(`.${suffix}`);
}

/** Whether DNS can carry `name`: 253 characters at most, labels of 1 to 63 (RFC 1035 §2.3.4). */
function isDnsName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => label.length > 0 && label.length <= 63);
}

/**
 * Whether `name` may be checked (RFC 7208 §4.3): a multi-label domain name of letters, digits,
 * hyphens and underscores that DNS can carry, its top label not all digits (not an address).
 */
function isDomainName(name: string): boolean {
  const labels = name.split('.');
  return (
    isDnsName(name) &&
    labels.length > 1 &&
    labels.every((label) => LABEL.test(label)) &&
    /\D/.test(labels.at(-1)!)
  );
}

function withoutTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** A directive as written in a record, without a `+` qualifier. */
function formatDirective(term: SpfTerm): string {
  return formatSpfRecord({ terms: [term] }).slice('v=spf1 '.length);
}
