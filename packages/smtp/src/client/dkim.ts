import { concatBytes, streamChunks, utf8 } from '@postwire/core';
import { type DkimSigner, type DkimSignOptions, signDkim } from '@postwire/mailauth';
import { composeMessage, toCrlf } from '@postwire/mime';
import { SmtpSigningError } from './errors.js';
import type { PreparedMessage, SmtpMessageInput } from './message.js';
import { isComposedMessage, isComposeOptions } from './message-kind.js';
import { describeMessage, type SmtpSendEnvelope } from './transaction.js';

/** A message signed before any connection: its final bytes, the same for every server and attempt. */
export class SignedMessage {
  readonly prepared: PreparedMessage;

  constructor(prepared: PreparedMessage) {
    this.prepared = prepared;
  }
}

/** The signers of a `dkim` option as a list; empty when there is nothing to sign with. */
export function dkimSigners(dkim: DkimSigner | readonly DkimSigner[] | undefined): readonly DkimSigner[] {
  if (dkim === undefined) return [];
  return Array.isArray(dkim) ? (dkim as readonly DkimSigner[]) : [dkim as DkimSigner];
}

/** The message needs signing: there are signers, or compose options that bring their own. */
export function needsSigning(input: SmtpMessageInput, signers: readonly DkimSigner[]): boolean {
  return signers.length > 0 || (isComposeOptions(input) && dkimSigners(input.dkim).length > 0);
}

/**
 * Signs a message with DKIM once, before it goes to any server, and returns its final bytes: the
 * DKIM-Signature fields, then the message. The message is read into memory (a signature covers the whole
 * body), with stray CR and LF made CRLF as the client would on the wire, unless it is binary. Compose
 * options are composed here rather than for each server: with 7-bit content unless `eightBit` says
 * otherwise (RFC 6376 §5.3), UTF-8 header fields when the envelope needs SMTPUTF8, and signed by their
 * own `dkim` signers first. Rejects with {@link SmtpSigningError} when a signer or key is unusable.
 */
export async function signMessage(
  input: SmtpMessageInput,
  envelope: SmtpSendEnvelope,
  signers: readonly DkimSigner[],
  options: DkimSignOptions | undefined,
): Promise<SignedMessage> {
  let all = signers;
  let signOptions = options;
  let messageId: string | undefined;
  let bytes: Uint8Array;
  if (typeof input === 'string') bytes = utf8(input);
  else if (input instanceof Uint8Array) bytes = input;
  else if (isComposeOptions(input)) {
    const { dkim, dkimOptions, ...compose } = input;
    all = [...dkimSigners(dkim), ...signers];
    signOptions = { ...options, ...dkimOptions };
    const composed = composeMessage({
      ...compose,
      eightBit: compose.eightBit ?? false,
      smtputf8: compose.smtputf8 ?? needsSmtputf8(envelope),
    });
    messageId = composed.messageId;
    bytes = await composed.bytes();
  } else if (isComposedMessage(input)) {
    messageId = input.messageId;
    bytes = await input.bytes();
  } else {
    const chunks: Uint8Array[] = [];
    for await (const chunk of input instanceof ReadableStream ? streamChunks(input) : input)
      chunks.push(chunk);
    bytes = concatBytes(chunks);
  }
  if (envelope.body !== 'BINARYMIME' && !describeMessage(bytes).binary) bytes = toCrlf(bytes);
  let fields: string;
  try {
    fields = await signDkim(bytes, all, signOptions);
  } catch (error) {
    throw new SmtpSigningError(`DKIM signing failed: ${(error as Error).message}`, error);
  }
  const signed = concatBytes([utf8(fields), bytes]);
  return new SignedMessage({
    source: [signed],
    bytes: signed,
    facts: describeMessage(signed),
    ...(messageId !== undefined ? { messageId } : {}),
  });
}

/** The envelope asks for SMTPUTF8, or holds a UTF-8 address: the header may carry raw UTF-8 too. */
function needsSmtputf8(envelope: SmtpSendEnvelope): boolean {
  return (
    envelope.smtputf8 === true ||
    [envelope.from ?? '', ...envelope.to].some((each) => /[^\x00-\x7f]/.test(each))
  );
}
