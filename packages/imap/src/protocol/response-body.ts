import { decodeUtf8, InvalidArgumentError } from '@postwire/core';
import type {
  BodyDisposition,
  BodyFields,
  BodyParameter,
  BodyStructure,
  Envelope,
  EnvelopeAddress,
  MultipartExtension,
  SinglePartExtension,
} from '@postwire/mime';
import type { ImapCursor } from './cursor.js';
import type { ImapWriter } from './writer.js';

/** A value of an extension the grammar does not know: a string (atom, number or string), NIL, or a list. */
export type ExtensionValue = string | null | readonly ExtensionValue[];

const OPEN = 0x28;
const CLOSE = 0x29;
const QUOTE = 0x22;

/** Reads an {@link ExtensionValue} (`tagged-ext-val`, `body-extension`, Gmail's `X-GM-*` values). */
export function readExtensionValue(cursor: ImapCursor): ExtensionValue {
  const next = cursor.peek();
  if (next === OPEN) return cursor.list(() => readExtensionValue(cursor));
  if (next === QUOTE || next === 0x7b || next === 0x7e) return cursor.string();
  if (cursor.nil()) return null;
  return cursor.word('flag');
}

/** Writes an {@link ExtensionValue}: strings as atoms when they can be, else quoted or literal. */
export function writeExtensionValue(writer: ImapWriter, value: ExtensionValue): void {
  if (value === null) writer.raw('NIL');
  else if (typeof value === 'string') writer.astring(value, '\\*');
  else writer.list(value, (item) => writeExtensionValue(writer, item));
}

function nstring(cursor: ImapCursor): string | null {
  if (cursor.nil()) return null;
  const value = cursor.stringValue();
  if (!(value instanceof Uint8Array)) return cursor.fail('Literal not expected here');
  return decodeUtf8(value);
}

/** Reads an ENVELOPE (RFC 9051 §7.5.2) into the type of `@postwire/mime`. */
export function readEnvelope(cursor: ImapCursor): Envelope {
  cursor.expect(OPEN, '"("');
  return cursor.nested(() => {
    const date = nstring(cursor);
    cursor.sp();
    const subject = nstring(cursor);
    const lists: (EnvelopeAddress[] | null)[] = [];
    for (let i = 0; i < 6; i++) {
      cursor.sp();
      lists.push(readAddresses(cursor));
    }
    cursor.sp();
    const inReplyTo = nstring(cursor);
    cursor.sp();
    const messageId = nstring(cursor);
    cursor.expect(0x29, '")"');
    const [from, sender, replyTo, to, cc, bcc] = lists as [
      EnvelopeAddress[] | null,
      EnvelopeAddress[] | null,
      EnvelopeAddress[] | null,
      EnvelopeAddress[] | null,
      EnvelopeAddress[] | null,
      EnvelopeAddress[] | null,
    ];
    return { date, subject, from, sender, replyTo, to, cc, bcc, inReplyTo, messageId };
  });
}

/** Reads one `address`: a list of exactly four nstrings, read in place (an envelope has a dozen). */
function readAddress(cursor: ImapCursor): EnvelopeAddress {
  cursor.expect(OPEN, '"("');
  return cursor.nested(() => {
    if (cursor.lenient) while (cursor.trySp());
    const name = addressField(cursor, true);
    const adl = addressField(cursor, false);
    const mailbox = addressField(cursor, false);
    const host = addressField(cursor, false);
    if (cursor.lenient) while (cursor.trySp());
    if (!cursor.tryByte(CLOSE)) cursor.fail('An address has four fields');
    return { name, adl, mailbox, host };
  });
}

/** One field of an address, after the space before it unless it is the `first`. */
function addressField(cursor: ImapCursor, first: boolean): string | null {
  if (!first && cursor.peek() !== CLOSE) cursor.sp();
  if (cursor.peek() === CLOSE) cursor.fail('An address has four fields');
  return nstring(cursor);
}

function readAddresses(cursor: ImapCursor): EnvelopeAddress[] | null {
  if (cursor.nil()) return null;
  cursor.expect(OPEN, '"("');
  const addresses: EnvelopeAddress[] = [];
  cursor.nested(() => {
    while (!cursor.tryByte(0x29)) {
      if (cursor.lenient) cursor.trySp();
      addresses.push(readAddress(cursor));
    }
  });
  return addresses.length > 0 ? addresses : null;
}

/** Writes an ENVELOPE. */
export function writeEnvelope(writer: ImapWriter, envelope: Envelope): void {
  writer.raw('(').nstring(envelope.date).sp().nstring(envelope.subject).sp();
  writeAddresses(writer, envelope.from);
  writeAddresses(writer.sp(), envelope.sender);
  writeAddresses(writer.sp(), envelope.replyTo);
  writeAddresses(writer.sp(), envelope.to);
  writeAddresses(writer.sp(), envelope.cc);
  writeAddresses(writer.sp(), envelope.bcc);
  writer.sp().nstring(envelope.inReplyTo).sp().nstring(envelope.messageId).raw(')');
}

function writeAddresses(writer: ImapWriter, list: readonly EnvelopeAddress[] | null): void {
  if (list === null || list.length === 0) {
    writer.raw('NIL');
    return;
  }
  writer.raw('(');
  for (const { name, adl, mailbox, host } of list)
    writer.raw('(').nstring(name).sp().nstring(adl).sp().nstring(mailbox).sp().nstring(host).raw(')');
  writer.raw(')');
}

/**
 * Reads a BODY or BODYSTRUCTURE into the type of `@postwire/mime`; each level of nesting counts against
 * the cursor's depth limit, so a hostile structure ends in an {@link ImapSyntaxError}.
 */
export function readBodyStructure(cursor: ImapCursor): BodyStructure {
  cursor.expect(OPEN, '"("');
  return cursor.nested(() => {
    // Lenient: `(NIL "alternative" …)`, a multipart without parts, as some servers send it.
    const body =
      cursor.peek() === OPEN || (cursor.lenient && cursor.nil())
        ? readMultipart(cursor)
        : readSinglePart(cursor);
    if (cursor.lenient) cursor.trySp();
    cursor.expect(0x29, '")"');
    return body;
  });
}

function readMultipart(cursor: ImapCursor): BodyStructure {
  const parts: BodyStructure[] = [];
  let spaced = false;
  while (cursor.peek() === OPEN) {
    parts.push(readBodyStructure(cursor));
    spaced = cursor.lenient && cursor.trySp();
  }
  if (!spaced) cursor.sp();
  const subtype = cursor.string();
  if (!cursor.trySp() || cursor.peek() === 0x29) return { kind: 'multipart', parts, subtype };
  const parameters = readParameters(cursor);
  const data = cursor.trySp() && cursor.peek() !== CLOSE ? readExtensionData(cursor) : [];
  const rest = commonExtension(cursor, data);
  const extension: MultipartExtension = { parameters, ...rest };
  return { kind: 'multipart', parts, subtype, extension };
}

function readSinglePart(cursor: ImapCursor): BodyStructure {
  const type = cursor.string();
  cursor.sp();
  const subtype = cursor.string();
  cursor.sp();
  const parameters = readParameters(cursor);
  cursor.sp();
  const id = nstring(cursor);
  cursor.sp();
  const description = nstring(cursor);
  cursor.sp();
  // Lenient: NIL (sent by some servers) is the default transfer encoding (RFC 2045 §6.1).
  const encoding = cursor.lenient && cursor.nil() ? '7BIT' : cursor.string();
  cursor.sp();
  const size = cursor.number();
  const fields: BodyFields = { type, subtype, parameters, id, description, encoding, size };
  const upper = `${type}/${subtype}`.toUpperCase();
  let body: BodyStructure;
  if (upper === 'MESSAGE/RFC822' || upper === 'MESSAGE/GLOBAL') {
    // Lenient: an embedded message whose envelope, body or line count cannot be read is a basic body.
    const message = cursor.lenient
      ? cursor.attempt(() => readMessageFields(cursor))
      : readMessageFields(cursor);
    if (!message) skipMessageFields(cursor);
    body = message ? { kind: 'message', ...fields, ...message } : { kind: 'basic', ...fields };
  } else if (type.toUpperCase() === 'TEXT') {
    cursor.sp();
    body = { kind: 'text', ...fields, lines: cursor.number() };
  } else body = { kind: 'basic', ...fields };
  if (!cursor.trySp() || cursor.peek() === 0x29) return body;
  const [md5, ...rest] = readExtensionData(cursor);
  const extension: SinglePartExtension = {
    md5: stringOrNull(cursor, md5, 'an MD5'),
    ...commonExtension(cursor, rest),
  };
  return { ...body, extension };
}

/** The envelope, body and line count of an embedded message. */
function readMessageFields(cursor: ImapCursor): { envelope: Envelope; body: BodyStructure; lines: number } {
  cursor.sp();
  const envelope = readEnvelope(cursor);
  cursor.sp();
  const body = readBodyStructure(cursor);
  cursor.sp();
  return { envelope, body, lines: cursor.number() };
}

/**
 * Passes over what a server sent where an embedded message's envelope, body and line count go, when
 * they cannot be read (Domino's `()` body, Gmail's `("ALTERNATIVE")`): the lists, then a number.
 */
function skipMessageFields(cursor: ImapCursor): void {
  const list = (): ExtensionValue =>
    cursor.trySp() && cursor.peek() === OPEN ? readExtensionValue(cursor) : cursor.fail('Expected a list');
  while (cursor.attempt(list) !== undefined);
  cursor.attempt(() => (cursor.trySp() ? cursor.number() : cursor.fail('Expected a number')));
}

function readParameters(cursor: ImapCursor): BodyParameter[] | null {
  if (cursor.nil()) return null;
  return parameterPairs(
    cursor,
    cursor.list(() => (cursor.lenient && cursor.nil() ? null : cursor.string())),
  );
}

/**
 * The name and value pairs of a parameter list. Lenient, a pair that is not two strings (mail.ru's
 * `("boundary" NIL)`) and an odd name at the end are dropped.
 */
function parameterPairs(cursor: ImapCursor, flat: readonly ExtensionValue[]): BodyParameter[] {
  if (flat.length % 2 !== 0 && !cursor.lenient) cursor.fail('Body parameters come in pairs');
  const parameters: BodyParameter[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (typeof name === 'string' && typeof value === 'string') parameters.push([name, value]);
    else if (!cursor.lenient) cursor.fail('Expected a string');
  }
  return parameters;
}

/** The extension data of a body, up to its closing parenthesis, each field read as a generic value. */
function readExtensionData(cursor: ImapCursor): ExtensionValue[] {
  const values = [readExtensionValue(cursor)];
  while (cursor.trySp() && cursor.peek() !== CLOSE) values.push(readExtensionValue(cursor));
  return values;
}

/**
 * Disposition, language and location from the extension data, each optional; later body extensions
 * are skipped. Lenient, a field of the wrong shape is dropped, and a bare string is taken as a
 * disposition without parameters (as Exchange sends it).
 */
function commonExtension(
  cursor: ImapCursor,
  [disposition = null, language = null, location = null]: readonly ExtensionValue[],
): Omit<SinglePartExtension, 'md5'> {
  return {
    disposition: readDisposition(cursor, disposition),
    language: readLanguage(cursor, language),
    location: stringOrNull(cursor, location, 'a location'),
  };
}

function readDisposition(cursor: ImapCursor, value: ExtensionValue): BodyDisposition | null {
  if (value === null) return null;
  if (typeof value === 'string')
    return cursor.lenient ? { type: value, parameters: null } : cursor.fail('Expected a disposition');
  const [type, parameters = null, ...extra] = value;
  if (typeof type !== 'string' || typeof parameters === 'string' || extra.length > 0) {
    misshapen(cursor, 'a disposition');
    return null;
  }
  return { type, parameters: parameters === null ? null : parameterPairs(cursor, parameters) };
}

function readLanguage(cursor: ImapCursor, value: ExtensionValue): string | string[] | null {
  if (!Array.isArray(value)) return stringOrNull(cursor, value, 'a language');
  const tags = value.filter((tag): tag is string => typeof tag === 'string');
  if (tags.length !== value.length) misshapen(cursor, 'a language');
  return tags;
}

function stringOrNull(cursor: ImapCursor, value: ExtensionValue | undefined, what: string): string | null {
  if (value === undefined || value === null || typeof value === 'string') return value ?? null;
  misshapen(cursor, what);
  return null;
}

/** A field of the wrong shape: dropped when lenient, else a syntax error. */
function misshapen(cursor: ImapCursor, what: string): void {
  if (!cursor.lenient) cursor.fail(`Expected ${what}`);
}

/** Writes a BODY (without extension data) or a BODYSTRUCTURE. */
export function writeBodyStructure(writer: ImapWriter, body: BodyStructure): void {
  writer.raw('(');
  if (body.kind === 'multipart') {
    if (body.parts.length === 0) throw new InvalidArgumentError('a multipart needs a part');
    for (const part of body.parts) writeBodyStructure(writer, part);
    writer.sp().string(body.subtype);
    if (body.extension) {
      writer.sp();
      writeParameters(writer, body.extension.parameters);
      writeCommonExtension(writer, body.extension);
    }
  } else {
    writer.string(body.type).sp().string(body.subtype).sp();
    writeParameters(writer, body.parameters);
    writer.sp().nstring(body.id).sp().nstring(body.description).sp().string(body.encoding);
    writer.sp().number(body.size);
    if (body.kind === 'message') {
      writer.sp();
      writeEnvelope(writer, body.envelope);
      writer.sp();
      writeBodyStructure(writer, body.body);
    }
    if (body.kind !== 'basic') writer.sp().number(body.lines);
    if (body.extension) {
      writer.sp().nstring(body.extension.md5);
      writeCommonExtension(writer, body.extension);
    }
  }
  writer.raw(')');
}

function writeParameters(writer: ImapWriter, parameters: readonly BodyParameter[] | null): void {
  if (parameters === null || parameters.length === 0) writer.raw('NIL');
  else writer.list(parameters, ([name, value]) => writer.string(name).sp().string(value));
}

function writeCommonExtension(writer: ImapWriter, extension: Omit<SinglePartExtension, 'md5'>): void {
  writer.sp();
  const { disposition, language } = extension;
  if (disposition === null) writer.raw('NIL');
  else {
    writer.raw('(').string(disposition.type).sp();
    writeParameters(writer, disposition.parameters);
    writer.raw(')');
  }
  writer.sp();
  if (Array.isArray(language)) writer.list(language, (tag: string) => writer.string(tag));
  else writer.nstring(language as string | null);
  writer.sp().nstring(extension.location);
}
