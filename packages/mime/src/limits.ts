/**
 * The parser's limits, each with a safe default. A breach never throws: the parser stops reading
 * the offending structure, records a defect whose code is `limit-<name>`, and goes on in linear time.
 */
export interface MimeLimits {
  /** Nesting depth of multiparts and embedded messages (default 100). Deeper parts are kept as opaque bodies. */
  maxDepth: number;
  /** Parts in one message, all levels together (default 10,000). Later boundaries are ignored. */
  maxParts: number;
  /** Bytes in one header field, folded lines included (default 1 MiB). The rest of the field is dropped. */
  maxHeaderSize: number;
  /** Bytes in one part's header block (default 10 MiB). The rest of the block is taken as the body. */
  maxHeadersSize: number;
  /** Header fields in one header block (default 10,000). Later fields are dropped. */
  maxHeaderCount: number;
  /** Parameters in one Content-Type or Content-Disposition field (default 128). Later ones are dropped. */
  maxParameters: number;
  /** Encoded words decoded in one header field (default 1,000). Later ones stay as written. */
  maxEncodedWords: number;
  /** Nesting depth of comments and groups in structured fields (default 100). */
  maxStructureDepth: number;
  /** Characters in a boundary parameter (default 2,048; RFC 2046 allows 70). Longer ones make the part opaque. */
  maxBoundaryLength: number;
}

/** The default limits. */
export const defaultMimeLimits: Readonly<MimeLimits> = Object.freeze({
  maxDepth: 100,
  maxParts: 10_000,
  maxHeaderSize: 1024 * 1024,
  maxHeadersSize: 10 * 1024 * 1024,
  maxHeaderCount: 10_000,
  maxParameters: 128,
  maxEncodedWords: 1_000,
  maxStructureDepth: 100,
  maxBoundaryLength: 2_048,
});
