import { ProtocolError } from '@postwire/core';

/**
 * A command or response that breaks the IMAP grammar. `text` is what a server sends after `BAD`;
 * `tag` is the command's tag when it could be read, so that the reply can be tagged.
 */
export class ImapSyntaxError extends ProtocolError {
  /** The tag of the command, when it was readable. */
  readonly tag: string | undefined;
  /** Human-readable reason, safe to send after `BAD`. */
  readonly text: string;

  constructor(text: string, tag?: string) {
    super(text);
    this.text = text;
    this.tag = tag;
  }
}
