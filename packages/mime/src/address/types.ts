/** One mailbox of an address field (RFC 5322 §3.4). */
export interface Mailbox {
  /** The decoded display name, `''` if none. Without a display name, the text of its comments (`a@b (Name)`). */
  name: string;
  /**
   * The addr-spec as `local@domain`, the local part quoted only where RFC 5322 needs it and the domain as
   * written; `''` if the mailbox has none. A field value that is not an addr-spec at all (such as the URL
   * of a List-* field) is kept here as written, without `local` and `domain`.
   */
  address: string;
  /** The local part, unquoted (`john doe` for `"john doe"@example.com`), when the address is an addr-spec. */
  local?: string;
  /** The domain as written (IDN not converted, `[1.2.3.4]` for a literal), when the address has one. */
  domain?: string;
  /** The text of the mailbox's comments, joined by a space, when it also has a display name. */
  comment?: string;
}

/** A named group of mailboxes (`undisclosed-recipients:;`, `Team: a@x, b@y;`). */
export interface Group {
  /** The decoded display name of the group. */
  group: string;
  /** Its members, possibly none. */
  members: Mailbox[];
  /** The text of the comments around the group's name, joined by a space, when there are any. */
  comment?: string;
}

/** A mailbox or a group; tell them apart with `'group' in address`. */
export type Address = Mailbox | Group;
