/** Bounds on what the IMAP grammar reads; every one is checked before memory is spent. */
export type ImapLimits = {
  /** Bytes of one command or response without its literals' contents (Dovecot's `imap_max_line_length`). */
  maxLineLength: number;
  /** Octets of one literal held in memory (an astring, a SEARCH string, an ENVELOPE field). */
  maxLiteralSize: number;
  /** Octets of one streamed literal (an APPEND message, a FETCH body). */
  maxStreamedLiteralSize: number;
  /** Literals in one command or response. */
  maxLiterals: number;
  /** Octets of all in-memory literals of one command or response. */
  maxLiteralBytes: number;
  /** Nesting of parenthesised lists, SEARCH keys and BODYSTRUCTURE parts. */
  maxDepth: number;
  /** The largest non-synchronising literal under LITERAL- (RFC 7888 §5: 4096). */
  maxNonSyncLiteral: number;
};

/** Dovecot-like defaults (mox for the literal counts). */
export const defaultImapLimits: Readonly<ImapLimits> = Object.freeze({
  maxLineLength: 65_536,
  maxLiteralSize: 102_400,
  maxStreamedLiteralSize: 64 * 1024 * 1024,
  maxLiterals: 1000,
  maxLiteralBytes: 1024 * 1024,
  maxDepth: 100,
  maxNonSyncLiteral: 4096,
});
