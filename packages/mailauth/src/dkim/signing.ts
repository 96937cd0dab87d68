import { encodeBase64, InvalidArgumentError } from '@postwire/core';
import { importDkimPrivateKey, signBytes } from '../crypto/keys.js';
import { type Sha256Factory, sha256Digest } from '../crypto/sha256.js';
import { MessageHeaderReader, type RawHeaderField } from '../message/header-reader.js';
import { type MessageSource, messageChunks } from '../message/input.js';
import type { DkimCanonicalization } from './canonicalization.js';
import type { DkimBodyHashes } from './hashing.js';
import type { DkimSigner } from './sign.js';
import { dkimAlgorithms } from './signature.js';
import { isDomainName, isSameOrSubdomain } from './tag-values.js';

// The parts of making a signature field shared by DKIM-Signature and ARC's two signatures.

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

/** The longest line the signature field is folded to. */
const LINE_LENGTH = 76;

/** A signer's options checked, its key imported and its defaults applied. */
export async function prepareSigner(signer: DkimSigner) {
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

/** A signer as {@link prepareSigner} returns it. */
export type PreparedSigner = Awaited<ReturnType<typeof prepareSigner>>;

/** A message read for signing: its header fields, and whether its lines end with bare LFs. */
export interface MessageRead {
  readonly fields: readonly RawHeaderField[];
  readonly lfOnly: boolean;
}

/**
 * Reads a message to be signed once: its header fields are returned, its body goes to `bodyHashes`, which
 * is ended. Throws `InvalidArgumentError` for a header larger than `maxHeaderBytes`.
 */
export async function readForSigning(
  message: MessageSource,
  bodyHashes: DkimBodyHashes,
  maxHeaderBytes = 1024 * 1024,
): Promise<MessageRead> {
  const reader = new MessageHeaderReader(maxHeaderBytes);
  for await (const chunk of messageChunks(message)) {
    const body = reader.push(chunk);
    if (body.length > 0) bodyHashes.update(body);
  }
  const header = reader.end();
  if (!header.ok) throw new InvalidArgumentError(header.reason);
  bodyHashes.end();
  return { fields: header.fields, lfOnly: reader.lfOnly };
}

/** Fields made here (CRLF line ends) in the line ends of the message they go on. */
export function inLineEndsOf(read: MessageRead, fields: string): string {
  return read.lfOnly ? fields.replace(/\r\n/g, '\n') : fields;
}

/** The names for `h=`: each of the signer's fields as often as it occurs, once more when over-signed. */
export function headersToSign(
  fields: readonly RawHeaderField[],
  signer: Pick<PreparedSigner, 'headers' | 'overSign'>,
): string[] {
  const present = new Map<string, number>();
  for (const field of fields) present.set(field.key, (present.get(field.key) ?? 0) + 1);
  const signedHeaders: string[] = [];
  for (const name of signer.headers) {
    const count = (present.get(name) ?? 0) + (signer.overSign.has(name) ? 1 : 0);
    for (let i = 0; i < count; i++) signedHeaders.push(name);
  }
  return signedHeaders;
}

/** Signs `data` (Ed25519 signs its SHA-256) and returns the whole field: name, `unsigned`, the folded signature, CRLF. */
export async function completeField(
  fieldName: string,
  unsigned: string,
  signer: Pick<PreparedSigner, 'keyType' | 'key'>,
  data: Uint8Array,
  sha256: Sha256Factory,
): Promise<string> {
  const toSign = signer.keyType === 'ed25519' ? sha256Digest(sha256, data) : data;
  const signature = encodeBase64(await signBytes(signer.keyType, signer.key, toSign));
  return `${fieldName}:${unsigned}${foldBase64(signature, unsigned.length - unsigned.lastIndexOf('\n'))}\r\n`;
}

function lowerName(name: string): string {
  return name.toLowerCase();
}

function isIdentityOf(identity: string, domain: string): boolean {
  const at = identity.lastIndexOf('@');
  return (
    at >= 0 &&
    /^[\x21-\x3a\x3c\x3e-\x7e]*$/.test(identity) &&
    isSameOrSubdomain(identity.slice(at + 1), domain)
  );
}

/**
 * The field value for `tags`: ` tag=value;` pieces, folded before a piece that would pass the line length,
 * `h=` broken after its colons; then `bh=` and `b=` each on a line of their own (folding space is allowed
 * inside base64). Ends with `b=`, to which the signature is appended. `bh=` only when `bodyHash` is given.
 */
export function foldTags(fieldName: string, tags: readonly [string, string][], bodyHash?: string): string {
  let value = '';
  let line = fieldName.length + 1;
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
  const bodyHashLine = bodyHash === undefined ? '' : `\r\n\tbh=${foldBase64(bodyHash, 4)};`;
  return `${value}${bodyHashLine}\r\n\tb=`;
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
