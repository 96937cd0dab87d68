/**
 * Dovecot's `dovecot-uidlist` (version 3), which gives each Maildir file its UID, so that Postwire and
 * Dovecot agree on UIDs over one Maildir:
 *
 *     3 V<uidvalidity> N<next uid> G<128-bit hex guid>
 *     <uid> [<extension fields>] :<file base name>
 *
 * New records are appended; the file is rewritten (through a temporary file and a rename) to drop the
 * records of expunged messages. The `G` field is the mailbox's GUID, which Dovecot reports as the mailbox
 * GUID and Postwire as its mailbox id; Dovecot takes a file whose `G` is not 32 hex digits for corrupt.
 */

/** One record: a UID, the file base it names, and the extension fields Dovecot wrote (kept as they are). */
export interface UidRecord {
  readonly uid: number;
  readonly base: string;
  /** Extension fields such as `W1234` or `G…`, space-separated, `''` if none. */
  readonly extensions: string;
}

/** The fields of the header line. */
export interface UidListHeader {
  readonly uidValidity: number;
  /** The next UID: the header's, or above the highest record, whichever is higher. */
  readonly nextUid: number;
  /** The `G` field: 32 lowercase hex digits, absent when the header has none (or a malformed one). */
  readonly mailboxGuid?: string;
  /** The header fields other than V, N and G, kept for rewrites. */
  readonly headerExtensions: string;
}

/** The parsed file. */
export interface UidList extends UidListHeader {
  readonly version: number;
  readonly records: UidRecord[];
}

const RECORD = /^(\d+)((?: [^ :][^ ]*)*) :(.+)$/;
const GUID_FIELD = /^G[0-9a-f]{32}$/i;

/**
 * Parses the file's text. A last line without its line feed (a write in progress) is ignored, as are
 * malformed records. Returns `undefined` when the header is not a version 3 header.
 */
export function parseUidList(text: string): UidList | undefined {
  const end = text.lastIndexOf('\n');
  const lines = end === -1 ? [] : text.slice(0, end).split('\n');
  const header = lines[0]?.split(' ') ?? [];
  if (header[0] !== '3') return undefined;
  let uidValidity = 0;
  let nextUid = 1;
  let mailboxGuid: string | undefined;
  const rest: string[] = [];
  for (const field of header.slice(1)) {
    if (field.startsWith('V')) uidValidity = Number(field.slice(1)) >>> 0;
    else if (field.startsWith('N')) nextUid = Number(field.slice(1)) >>> 0 || 1;
    else if (field.startsWith('G'))
      mailboxGuid = GUID_FIELD.test(field) ? field.slice(1).toLowerCase() : undefined;
    else if (field) rest.push(field);
  }
  if (uidValidity === 0) return undefined;
  const records = parseUidRecords(lines.slice(1));
  for (const record of records) if (record.uid >= nextUid) nextUid = record.uid + 1;
  return { version: 3, uidValidity, nextUid, mailboxGuid, headerExtensions: rest.join(' '), records };
}

/** The well-formed records among complete record lines (such as those appended since the last read). */
export function parseUidRecords(lines: readonly string[]): UidRecord[] {
  const records: UidRecord[] = [];
  for (const line of lines) {
    const match = RECORD.exec(line);
    if (!match) continue;
    const uid = Number(match[1]);
    if (!Number.isSafeInteger(uid) || uid < 1 || uid > 0xffffffff) continue;
    records.push({ uid, base: match[3]!, extensions: match[2]!.trim() });
  }
  return records;
}

/** The header line, with its line feed: V, N and G in Dovecot's order, then the other fields. */
export function uidListHeader(header: UidListHeader): string {
  const fields = [`V${header.uidValidity}`, `N${header.nextUid}`];
  if (header.mailboxGuid !== undefined) fields.push(`G${header.mailboxGuid}`);
  if (header.headerExtensions) fields.push(header.headerExtensions);
  return `3 ${fields.join(' ')}\n`;
}

/** One record line, with its line feed. */
export function uidRecordLine(record: UidRecord): string {
  return `${record.uid}${record.extensions ? ` ${record.extensions}` : ''} :${record.base}\n`;
}

/** The whole file. */
export function serializeUidList(list: UidList): string {
  return uidListHeader(list) + list.records.map(uidRecordLine).join('');
}
