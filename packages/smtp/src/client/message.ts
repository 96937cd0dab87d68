import { streamChunks, utf8 } from '@postwire/core';
import { type ComposedMessage, type ComposeOptions, composeMessage } from '@postwire/mime';
import type { SmtpCapabilities } from '../protocol/capabilities.js';
import { isComposedMessage, isComposeOptions } from './message-kind.js';
import type { MessageSource } from './session.js';
import { describeMessage, type SmtpMessageFacts, type SmtpSendEnvelope } from './transaction.js';

/**
 * A message to send: its bytes (a string is sent as UTF-8), a stream of them, a message composed with
 * `@postwire/mime`'s `composeMessage`, or the options to compose one with.
 */
export type SmtpMessageInput =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | ComposedMessage
  | ComposeOptions;

/** A message ready for one connection: its bytes when known, or a source to read once. */
export interface PreparedMessage {
  /** The message's bytes, to read once. */
  readonly source: MessageSource;
  /** The whole message, when it is in memory. */
  readonly bytes?: Uint8Array;
  /** What is known of the message before sending it. */
  readonly facts: SmtpMessageFacts;
  /** The Message-ID of a composed message. */
  readonly messageId?: string;
}

/**
 * Turns a message input into bytes or a stream. Compose options are composed for this server: 8-bit
 * text when it offers 8BITMIME, raw UTF-8 headers only when the transaction uses SMTPUTF8.
 */
export async function prepareMessage(
  input: SmtpMessageInput,
  capabilities: SmtpCapabilities,
  smtputf8: boolean,
): Promise<PreparedMessage> {
  if (typeof input === 'string') input = utf8(input);
  if (input instanceof Uint8Array) return { source: [input], bytes: input, facts: describeMessage(input) };
  if (isComposeOptions(input)) {
    const composed = composeMessage({
      ...input,
      eightBit: input.eightBit ?? capabilities.eightBitMime,
      smtputf8: input.smtputf8 ?? smtputf8,
    });
    const bytes = await composed.bytes();
    return { source: [bytes], bytes, facts: describeMessage(bytes), messageId: composed.messageId };
  }
  if (isComposedMessage(input)) {
    return { source: input, facts: {}, messageId: input.messageId };
  }
  return { source: input instanceof ReadableStream ? streamChunks(input) : input, facts: {} };
}

/**
 * The envelope a message brings along: a composed message's, or one derived from compose options (where a
 * UTF-8 local part is allowed: it makes the transaction use SMTPUTF8, and the message is composed for it).
 */
export function messageEnvelope(input: SmtpMessageInput): SmtpSendEnvelope | undefined {
  if (typeof input === 'string' || input instanceof Uint8Array || input instanceof ReadableStream)
    return undefined;
  if (isComposedMessage(input)) return input.envelope;
  if (isComposeOptions(input)) return composeMessage({ ...input, smtputf8: input.smtputf8 ?? true }).envelope;
  return undefined;
}
