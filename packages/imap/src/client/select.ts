import type { QresyncParameters } from '../protocol/command.js';
import { SequenceSet } from '../protocol/sequence-set.js';
import { flagUpdate, type ImapFlagUpdate, MailboxTracker } from './mailbox-state.js';
import type { ImapClientSession } from './session.js';

/** How to open a mailbox. */
export interface SelectOptions {
  readonly readOnly: boolean;
  readonly condstore: boolean;
  readonly qresync: QresyncParameters | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
}

/** A mailbox just opened, and with QRESYNC what the server reported as changed since. */
export interface Selected {
  readonly mailbox: MailboxTracker;
  /** UIDs expunged since (VANISHED (EARLIER)), as ranges. */
  readonly vanished: SequenceSet | undefined;
  /** Messages changed since (their FETCH responses). */
  readonly changed: readonly ImapFlagUpdate[];
}

/**
 * SELECT or EXAMINE: builds the new mailbox's state from the responses (none of them an event) and
 * makes it the session's open mailbox.
 */
export async function selectMailbox(
  session: ImapClientSession,
  path: string,
  options: SelectOptions,
): Promise<Selected> {
  const { readOnly, condstore, qresync, signal, timeout } = options;
  const mailbox = new MailboxTracker(path, readOnly);
  const vanished: SequenceSet[] = [];
  const changed: ImapFlagUpdate[] = [];
  const response = await session.run({
    command: {
      name: readOnly ? 'EXAMINE' : 'SELECT',
      mailbox: path,
      ...(condstore && { condstore }),
      ...(qresync && { qresync }),
    },
    exclusive: true,
    signal,
    timeout,
    handler: {
      untagged: (untagged) => {
        switch (untagged.type) {
          case 'VANISHED':
            vanished.push(untagged.uids);
            return true;
          case 'FETCH':
            changed.push(flagUpdate(untagged.number, untagged.attributes));
            return true;
          case 'EXISTS':
          case 'RECENT':
          case 'FLAGS':
          case 'status':
            mailbox.apply(untagged, true);
            return true;
          default:
            return false;
        }
      },
    },
  });
  const code = response.code?.code;
  mailbox.readOnly = code === 'READ-ONLY' || (readOnly && code !== 'READ-WRITE');
  session.select(mailbox);
  return {
    mailbox,
    vanished: vanished.length > 0 ? SequenceSet.of(vanished.flatMap((set) => set.ranges)) : undefined,
    changed,
  };
}
