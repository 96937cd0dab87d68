import type {
  BodyDisposition,
  BodyParameter,
  BodyStructure,
  Envelope,
  EnvelopeAddress,
} from '../../../src/index.js';

/** Test-only serialisation of the IMAP structures, to compare with the strings printed in the RFCs. */

function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

function nstring(text: string | null): string {
  return text === null ? 'NIL' : quoted(text);
}

function addressList(addresses: readonly EnvelopeAddress[] | null): string {
  if (addresses === null) return 'NIL';
  const items = addresses.map(
    (a) => `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`,
  );
  return `(${items.join('')})`;
}

/** `envelope` of RFC 3501 §9. */
export function envelopeSyntax(envelope: Envelope): string {
  const e = envelope;
  return `(${[
    nstring(e.date),
    nstring(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    nstring(e.inReplyTo),
    nstring(e.messageId),
  ].join(' ')})`;
}

function parameters(list: readonly BodyParameter[] | null): string {
  return list === null ? 'NIL' : `(${list.flat().map(quoted).join(' ')})`;
}

function disposition(value: BodyDisposition | null): string {
  return value === null ? 'NIL' : `(${quoted(value.type)} ${parameters(value.parameters)})`;
}

function language(value: string | string[] | null): string {
  if (value === null) return 'NIL';
  return typeof value === 'string' ? quoted(value) : `(${value.map(quoted).join(' ')})`;
}

/** `body` of RFC 3501 §9 (BODY, or BODYSTRUCTURE when extension data is present). */
export function bodySyntax(body: BodyStructure): string {
  if (body.kind === 'multipart') {
    let text = `${body.parts.map(bodySyntax).join('')} ${quoted(body.subtype)}`;
    const ext = body.extension;
    if (ext) {
      text += ` ${parameters(ext.parameters)} ${disposition(ext.disposition)} ${language(ext.language)} ${nstring(ext.location)}`;
    }
    return `(${text})`;
  }
  let text = [
    quoted(body.type),
    quoted(body.subtype),
    parameters(body.parameters),
    nstring(body.id),
    nstring(body.description),
    quoted(body.encoding),
    String(body.size),
  ].join(' ');
  if (body.kind === 'text') text += ` ${body.lines}`;
  if (body.kind === 'message') {
    text += ` ${envelopeSyntax(body.envelope)} ${bodySyntax(body.body)} ${body.lines}`;
  }
  const ext = body.extension;
  if (ext) {
    text += ` ${nstring(ext.md5)} ${disposition(ext.disposition)} ${language(ext.language)} ${nstring(ext.location)}`;
  }
  return `(${text})`;
}
