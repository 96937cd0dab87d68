import type { FetchItem } from '../protocol/fetch-item.js';
import { SequenceSet } from '../protocol/sequence-set.js';
import type { ImapEmit } from './events.js';
import { flagUpdate, type ImapMailboxState } from './mailbox-state.js';
import { runSearch } from './search-query.js';
import { selectMailbox } from './select.js';
import type { ImapClientSession } from './session.js';

/**
 * How the mailbox open when the connection dropped was brought up to date on the new one:
 * - `qresync`: SELECT with QRESYNC (RFC 7162 §3.2.5), which reports what vanished and changed since;
 * - `condstore`: UID SEARCH for the UIDs still there, UID FETCH CHANGEDSINCE for the flags changed;
 * - `full`: UID FETCH of every message's flags (each becomes a `flags` event);
 * - `uidvalidity`: the UIDVALIDITY changed (or was never known): nothing was reported, start over.
 */
export type ImapResyncMethod = 'qresync' | 'condstore' | 'full' | 'uidvalidity';

/** What a dropped session had that its successor restores. */
export interface RestorableState {
  /** What ENABLE had turned on. */
  readonly enabled: readonly string[];
  /** The open mailbox as it was last reported. */
  readonly mailbox: ImapMailboxState | undefined;
}

/**
 * Brings a new session to where the dropped one was: ENABLE again, then the mailbox reopened (the same
 * way, read-only or not) and what changed meanwhile dispatched as `vanished`, `flags` and `exists`
 * events. Resolves with how the mailbox was resynchronised, `undefined` when none was open.
 */
export async function restoreState(
  session: ImapClientSession,
  state: RestorableState,
  emit: ImapEmit,
): Promise<ImapResyncMethod | undefined> {
  const enable = state.enabled.filter((name) => !session.enabled.has(name));
  if (enable.length > 0 && (session.has('ENABLE') || session.has('IMAP4REV2')))
    await session.run({ command: { name: 'ENABLE', capabilities: enable }, exclusive: true });
  return state.mailbox && resynchronise(session, state.mailbox, emit);
}

/**
 * Reopens `previous.path` and reports what changed since `previous`, by QRESYNC when it was enabled,
 * else CONDSTORE, else every message's flags. The messages checked are all those below the UIDNEXT of
 * now, so that those that came and went during the old session are covered too: a `vanished` event may
 * name UIDs the application never saw, and `flags` events messages it has not fetched yet.
 */
async function resynchronise(
  session: ImapClientSession,
  previous: ImapMailboxState,
  emit: ImapEmit,
): Promise<ImapResyncMethod> {
  const { path, uidValidity } = previous;
  const modseq = uidValidity === undefined ? undefined : previous.highestModseq;
  const qresync = modseq !== undefined && session.enabled.has('QRESYNC');
  const selected = await selectMailbox(session, path, {
    readOnly: previous.readOnly,
    condstore: modseq !== undefined && !qresync && session.has('CONDSTORE'),
    qresync: qresync ? { uidValidity: uidValidity!, modSeq: modseq } : undefined,
  });
  const { mailbox } = selected;
  if (uidValidity === undefined || mailbox.uidValidity !== uidValidity) return 'uidvalidity';
  let method: ImapResyncMethod;
  if (qresync) {
    method = 'qresync';
    if (selected.vanished) emit('vanished', { path, uids: selected.vanished, earlier: true });
    for (const update of selected.changed) emit('flags', { path, ...update });
  } else {
    const since = mailbox.highestModseq === undefined ? undefined : modseq;
    method = since === undefined ? 'full' : 'condstore';
    const [present, fetched] = await Promise.all([
      since === undefined ? undefined : uidsPresent(session),
      mailbox.exists > 0 ? flagsSince(session, path, since, emit) : SequenceSet.of([]),
    ]);
    const last = (mailbox.uidNext ?? previous.uidNext ?? 1) - 1;
    const gone = missing(present ?? fetched, last);
    if (gone) emit('vanished', { path, uids: gone, earlier: true });
  }
  if (mailbox.exists !== previous.exists || mailbox.uidNext !== previous.uidNext)
    emit('exists', { path, count: mailbox.exists, previous: previous.exists });
  return method;
}

/** The UIDs in the mailbox (UID SEARCH ALL; as ranges with ESEARCH). */
async function uidsPresent(session: ImapClientSession): Promise<SequenceSet> {
  if (session.mailbox?.exists === 0) return SequenceSet.of([]);
  const found = await runSearch(session, { uid: true, criteria: [{ key: 'ALL' }] });
  return Array.isArray(found) ? SequenceSet.from(found) : found;
}

/**
 * UID FETCH 1:* of the flags (CHANGEDSINCE `since` with CONDSTORE); each message becomes a `flags`
 * event as it arrives. Resolves with the UIDs seen.
 */
async function flagsSince(
  session: ImapClientSession,
  path: string,
  since: number | undefined,
  emit: ImapEmit,
): Promise<SequenceSet> {
  const uids: number[] = [];
  const items: FetchItem[] = [{ item: 'UID' }, { item: 'FLAGS' }];
  if (since !== undefined) items.push({ item: 'MODSEQ' });
  await session.run({
    command: {
      name: 'FETCH',
      uid: true,
      sequence: SequenceSet.of([{ start: 1, end: Number.POSITIVE_INFINITY }]),
      items,
      ...(since !== undefined && { changedSince: since }),
    },
    handler: {
      untagged: (response) => {
        if (response.type !== 'FETCH') return false;
        const update = flagUpdate(response.number, response.attributes);
        if (update.uid !== undefined) uids.push(update.uid);
        emit('flags', { path, ...update });
        return true;
      },
    },
  });
  return SequenceSet.from(uids);
}

/** The numbers from 1 to `last` that are not in `present`, as ranges (never expanded). */
function missing(present: SequenceSet, last: number): SequenceSet | undefined {
  const gaps: { start: number; end: number }[] = [];
  let next = 1;
  for (const { start, end } of present.ranges) {
    if (start > last) break;
    if (start > next) gaps.push({ start: next, end: start - 1 });
    next = Math.max(next, end + 1);
  }
  if (next <= last) gaps.push({ start: next, end: last });
  return gaps.length > 0 ? SequenceSet.of(gaps) : undefined;
}
