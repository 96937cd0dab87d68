import { InvalidMailboxNameError } from '../errors.js';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../modified-utf7.js';
import { MAILBOX_DELIMITER } from '../types.js';

/**
 * Maildir++ folder names, as Dovecot lays them out: INBOX is the user's Maildir itself, and every other
 * mailbox is a directory `.<name>` beside it, its hierarchy joined by `.` and each level in modified
 * UTF-7 (`Work/Entwürfe` → `.Work.Entw&APw-rfe`).
 */

/** The longest name of a directory, in octets (`NAME_MAX` of Linux and most file systems). */
const MAX_FOLDER_OCTETS = 255;

/**
 * The folder directory of a canonical mailbox name (`''` for INBOX).
 * @throws InvalidMailboxNameError for a level holding `.`, or a name whose directory name, the whole
 *   hierarchy in one, would pass 255 octets.
 */
export function folderOfMailbox(name: string): string {
  if (name === 'INBOX') return '';
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.some((level) => level.includes('.'))) {
    throw new InvalidMailboxNameError('forbidden-character', 'a Maildir++ mailbox name cannot hold "."');
  }
  // Modified UTF-7 is ASCII: its length is its size in octets.
  const folder = `.${levels.map(encodeModifiedUtf7).join('.')}`;
  if (folder.length > MAX_FOLDER_OCTETS) {
    throw new InvalidMailboxNameError(
      'too-long',
      `a Maildir++ folder name cannot pass ${MAX_FOLDER_OCTETS} octets (the whole hierarchy in one)`,
    );
  }
  return folder;
}

/** The mailbox name of a folder directory, or `undefined` for a directory that is not a folder. */
export function mailboxOfFolder(directory: string): string | undefined {
  if (!directory.startsWith('.') || directory === '.' || directory === '..') return undefined;
  const levels = directory.slice(1).split('.');
  if (levels.some((level) => level === '')) return undefined;
  try {
    return levels.map(decodeModifiedUtf7).join(MAILBOX_DELIMITER);
  } catch {
    return undefined;
  }
}
