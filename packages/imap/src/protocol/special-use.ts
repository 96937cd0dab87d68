/** The special-use mailbox attributes: RFC 6154 §2's seven and RFC 8457's `\Important`. */
const SPECIAL_USE_ATTRIBUTES: ReadonlyMap<string, string> = new Map(
  ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'].map(
    (attribute) => [attribute.toUpperCase(), attribute],
  ),
);

/**
 * The special-use attribute `flag` names, in its RFC spelling (attributes are case-insensitive), or
 * `undefined` for any other mailbox attribute.
 */
export function specialUseAttribute(flag: string): string | undefined {
  return SPECIAL_USE_ATTRIBUTES.get(flag.toUpperCase());
}
