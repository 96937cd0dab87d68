/**
 * Something wrong in a message that the parser worked around. Parsing never throws on malformed
 * input: it returns the best reading and the list of defects, so that callers can decide what a
 * defect means to them (a spam score, a refusal, a warning).
 */
export interface Defect {
  /** A stable identifier, such as `missing-end-boundary` or `multiple-from`. */
  readonly code: string;
  /** A short human-readable explanation. */
  readonly message: string;
  /** The part it concerns, as an IMAP section path (`''` for the top level, `1.2` …), when known. */
  readonly part?: string;
}
