import { InvalidMailboxNameError } from '../errors.js';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../modified-utf7.js';
import { MAILBOX_DELIMITER } from '../types.js';

/**
 * Maildir++ folder names, as Dovecot lays them out: INBOX is the user's Maildir itself, and every other
 * mailbox is a directory `.<name>` beside it, its hierarchy joined by `.` and each level in modified
 * UTF-7 (`Work/Entwürfe` → `.Work.Entw&APw-rfe`).
 */

/** The folder directory of a canonical mailbox name (`''` for INBOX). */
export function folderOfMailbox(name: string): string {
  if (name === 'INBOX') return '';
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.some((level) => level.includes('.'))) {
    throw new InvalidMailboxNameError('forbidden-character', 'a Maildir++ mailbox name cannot hold "."');
  }
  return `.${levels.map(encodeModifiedUtf7).join('.')}`;
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
