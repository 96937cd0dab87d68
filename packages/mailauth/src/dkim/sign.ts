import { encodeBase64, InvalidArgumentError } from '@postwire/core';
import { importDkimPrivateKey, signBytes } from '../crypto/keys.js';
import { createSha256, type Sha256Factory } from '../crypto/sha256.js';
import { MessageHeaderReader } from '../message/header-reader.js';
import { type MessageSource, messageChunks } from '../message/input.js';
import type { DkimCanonicalization } from './canonicalization.js';
import { DkimBodyHashes, signedHeaderBytes } from './hashing.js';
import { type DkimAlgorithm, dkimAlgorithms } from './signature.js';
import { isDomainName } from './tag-values.js';

/**
 * The header fields signed by default, when present: those RFC 6376 §5.4.1 recommends, the MIME fields,
 * and the list fields (RFC 2369, RFC 2919). Never signed by default: Received and Return-Path, which
 * change in transit.
 */
export const defaultDkimSignedHeaders: readonly string[] = Object.freeze([
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'resent-date',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-message-id',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
]);

/**
 * The fields over-signed by default (RFC 6376 §8.15): named once more than they occur, so that a copy added
 * in transit breaks the signature.
 */
export const defaultDkimOverSignedHeaders: readonly string[] = Object.freeze([
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'in-reply-to',
  'references',
]);

/** One signature to add: who signs, with which key, and how. */
export interface DkimSigner {
  /** `d=`: the signing domain. */
  domain: string;
  /** `s=`: the selector; the public key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /**
   * The private key: a Web Crypto signing key, a PEM `PRIVATE KEY` or `RSA PRIVATE KEY`, or for Ed25519
   * the base64 of the 32-byte seed.
   */
  privateKey: CryptoKey | string;
  /** `a=` (default `rsa-sha256`; `ed25519-sha256` for an Ed25519 `CryptoKey`). */
  algorithm?: Exclude<DkimAlgorithm, 'rsa-sha1'>;
  /** `c=`, header then body (default `relaxed/relaxed`). */
  canonicalization?: `${DkimCanonicalization}/${DkimCanonicalization}`;
  /** The fields to sign, when present (default {@link defaultDkimSignedHeaders}); From is always signed. */
  headers?: readonly string[];
  /** The fields to over-sign (default {@link defaultDkimOverSignedHeaders}); `[]` for none. */
  overSign?: readonly string[];
  /** `i=`: the identity (AUID), in `d=`'s domain or a subdomain of it. */
  identity?: string;
  /** Put `l=`, the body's length, in the signature (default false: RFC 6376 §8.2 explains the risk). */
  bodyLength?: boolean;
  /** `x=`: seconds from now until the signature expires; absent: no expiry. */
  expiresIn?: number;
}

/** Options of {@link signDkim}. */
export interface DkimSignOptions {
  /** The SHA-256 for body and Ed25519 header hashes (default: {@link createSha256}). */
  sha256?: Sha256Factory;
  /** The clock for `t=` and `x=`, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The most header bytes read (default 1 MiB). */
  maxHeaderBytes?: number;
}

/** The longest line the signature field is folded to. */
const LINE_LENGTH = 76;

/**
 * Signs a message with one or more DKIM signatures (RFC 6376 §5, RFC 8463), reading it once as a stream.
 * Returns the DKIM-Signature fields, each ending with CRLF, in the order of `signers`: prepend them to the
 * message as they are. Throws `InvalidArgumentError` for an unusable signer or key, or a header larger
 * than allowed.
 */
export async function signDkim(
  message: MessageSource,
  signers: DkimSigner | readonly DkimSigner[],
  options: DkimSignOptions = {},
): Promise<string> {
  const list = Array.isArray(signers) ? (signers as readonly DkimSigner[]) : [signers as DkimSigner];
  const sha256 = options.sha256 ?? createSha256;
  const prepared = await Promise.all(list.map(prepareSigner));
  const bodyHashes = new DkimBodyHashes(sha256);
  for (const signer of prepared) bodyHashes.request(signer.bodyCanonicalization);
  const reader = new MessageHeaderReader(options.maxHeaderBytes ?? 1024 * 1024);
  for await (const chunk of messageChunks(message)) {
    const body = reader.push(chunk);
    if (body.length > 0) bodyHashes.update(body);
  }
  const header = reader.end();
  if (!header.ok) throw new InvalidArgumentError(header.reason);
  bodyHashes.end();
  const now = Math.floor((options.now ?? Date.now)() / 1000);

  let fields = '';
  for (const signer of prepared) {
    const present = new Map<string, number>();
    for (const field of header.fields) present.set(field.key, (present.get(field.key) ?? 0) + 1);
    const signedHeaders: string[] = [];
    for (const name of signer.headers) {
      const count = (present.get(name) ?? 0) + (signer.overSign.has(name) ? 1 : 0);
      for (let i = 0; i < count; i++) signedHeaders.push(name);
    }
    const body = bodyHashes.result(signer.bodyCanonicalization);
    const tags: [string, string][] = [
      ['v', '1'],
      ['a', signer.algorithm],
      ['c', `${signer.headerCanonicalization}/${signer.bodyCanonicalization}`],
      ['d', signer.domain],
      ['s', signer.selector],
    ];
    if (signer.identity !== undefined) tags.push(['i', signer.identity]);
    tags.push(['t', String(now)]);
    if (signer.expiresIn !== undefined) tags.push(['x', String(now + signer.expiresIn)]);
    if (signer.bodyLength) tags.push(['l', String(body.length)]);
    tags.push(['h', signedHeaders.join(':')]);
    const unsigned = foldTags(tags, encodeBase64(body.digest));
    const data = signedHeaderBytes(
      header.fields,
      signedHeaders,
      signer.headerCanonicalization,
      'DKIM-Signature',
      unsigned,
    );
    const toSign = signer.keyType === 'ed25519' ? digest(sha256, data) : data;
    const signature = await signBytes(signer.keyType, signer.key, toSign);
    fields += `DKIM-Signature:${unsigned}${foldBase64(encodeBase64(signature), lastLineLength(unsigned))}\r\n`;
  }
  return fields;
}

async function prepareSigner(signer: DkimSigner) {
  if (!isDomainName(signer.domain, 2))
    throw new InvalidArgumentError(`invalid signing domain "${signer.domain}"`);
  if (!isDomainName(signer.selector, 1))
    throw new InvalidArgumentError(`invalid selector "${signer.selector}"`);
  const ed25519Key = typeof signer.privateKey !== 'string' && signer.privateKey.algorithm.name === 'Ed25519';
  const algorithm = signer.algorithm ?? (ed25519Key ? 'ed25519-sha256' : 'rsa-sha256');
  if (!Object.hasOwn(dkimAlgorithms, algorithm) || dkimAlgorithms[algorithm].refused) {
    throw new InvalidArgumentError(`unsupported signing algorithm "${algorithm}"`);
  }
  const { keyType } = dkimAlgorithms[algorithm];
  const imported = await importDkimPrivateKey(signer.privateKey, keyType);
  if (!imported.ok) throw new InvalidArgumentError(imported.reason);
  const [headerCanonicalization, bodyCanonicalization] = (signer.canonicalization ?? 'relaxed/relaxed').split(
    '/',
  ) as [DkimCanonicalization, DkimCanonicalization];
  for (const value of [headerCanonicalization, bodyCanonicalization]) {
    if (value !== 'simple' && value !== 'relaxed')
      throw new InvalidArgumentError(`invalid canonicalization "${signer.canonicalization}"`);
  }
  if (signer.identity !== undefined && !isIdentityOf(signer.identity, signer.domain)) {
    throw new InvalidArgumentError(
      `identity "${signer.identity}" is not in the signing domain "${signer.domain}"`,
    );
  }
  if (signer.expiresIn !== undefined && !(Number.isSafeInteger(signer.expiresIn) && signer.expiresIn > 0)) {
    throw new InvalidArgumentError(`expiresIn must be a positive number of seconds: ${signer.expiresIn}`);
  }
  const headers = [...new Set(['from', ...(signer.headers ?? defaultDkimSignedHeaders).map(lowerName)])];
  for (const name of headers) {
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name))
      throw new InvalidArgumentError(`invalid header field name "${name}"`);
  }
  return {
    domain: signer.domain,
    selector: signer.selector,
    identity: signer.identity,
    bodyLength: signer.bodyLength === true,
    expiresIn: signer.expiresIn,
    algorithm,
    keyType,
    key: imported.value,
    headerCanonicalization,
    bodyCanonicalization,
    headers,
    overSign: new Set((signer.overSign ?? defaultDkimOverSignedHeaders).map(lowerName)),
  };
}

function lowerName(name: string): string {
  return name.toLowerCase();
}

function isIdentityOf(identity: string, domain: string): boolean {
  const at = identity.lastIndexOf('@');
  const identityDomain = identity.slice(at + 1).toLowerCase();
  const lowerDomain = domain.toLowerCase();
  return (
    at >= 0 &&
    /^[\x21-\x3a\x3c\x3e-\x7e]*$/.test(identity) &&
    (identityDomain === lowerDomain || identityDomain.endsWith(`.${lowerDomain}`))
  );
}

function digest(sha256: Sha256Factory, bytes: Uint8Array): Uint8Array {
  const hash = sha256();
  hash.update(bytes);
  return hash.digest();
}

/**
 * The field value for `tags`: ` tag=value;` pieces, folded before a piece that would pass the line length,
 * `h=` broken after its colons; then `bh=` and `b=` each on a line of their own (folding space is allowed
 * inside base64). Ends with `b=`, to which the signature is appended.
 */
function foldTags(tags: readonly [string, string][], bodyHash: string): string {
  let value = '';
  let line = 'DKIM-Signature:'.length;
  for (const [name, text] of tags) {
    const parts = name === 'h' ? `h=${text};`.match(/[^:]+:?/g)! : [`${name}=${text};`];
    for (const [index, part] of parts.entries()) {
      const space = index === 0 ? 1 : 0;
      if (line + space + part.length > LINE_LENGTH) {
        value += '\r\n\t';
        line = 1;
      } else if (space === 1) {
        value += ' ';
        line++;
      }
      value += part;
      line += part.length;
    }
  }
  return `${value}\r\n\tbh=${foldBase64(bodyHash, 4)};\r\n\tb=`;
}

/** Base64 broken by folding space to keep lines within the line length, the first line starting at `column`. */
function foldBase64(text: string, column: number): string {
  let out = '';
  let room = Math.max(8, LINE_LENGTH - column);
  for (let at = 0; at < text.length; ) {
    out += text.slice(at, at + room);
    at += room;
    if (at < text.length) out += '\r\n\t';
    room = LINE_LENGTH - 1;
  }
  return out;
}

function lastLineLength(value: string): number {
  return value.length - value.lastIndexOf('\n');
}
