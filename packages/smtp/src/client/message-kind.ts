import type { ComposedMessage, ComposeOptions } from '@postwire/mime';
import type { SmtpMessageInput } from './message.js';

/** The options, not yet composed: a plain object with `from` that is not iterable. */
export function isComposeOptions(input: SmtpMessageInput): input is ComposeOptions {
  return typeof input === 'object' && 'from' in input && !(Symbol.asyncIterator in input);
}

/** A message composed with `@postwire/mime`'s `composeMessage`: iterable, with its envelope and Message-ID. */
export function isComposedMessage(input: SmtpMessageInput): input is ComposedMessage {
  return (
    typeof input === 'object' && 'envelope' in input && 'messageId' in input && Symbol.asyncIterator in input
  );
}
