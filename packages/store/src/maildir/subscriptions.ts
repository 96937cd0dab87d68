import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../modified-utf7.js';
import { MAILBOX_DELIMITER } from '../types.js';

/**
 * Dovecot's `subscriptions` file (version 2): the header `V<TAB>2` and an empty line, then one mailbox
 * per line, its levels separated by a tab and each level in modified UTF-7, as Dovecot stores names.
 */

const HEADER = 'V\t2\n\n';

/** The subscribed names of the file's text; lines that are not valid names are skipped. */
export function parseSubscriptions(text: string): string[] {
  const version2 = text.startsWith(HEADER);
  const body = version2 ? text.slice(HEADER.length) : text;
  const names: string[] = [];
  for (const line of body.split('\n')) {
    if (!line) continue;
    try {
      // Version 1 files list storage names, their levels separated by the Maildir++ `.`.
      names.push(
        line
          .split(version2 ? '\t' : '.')
          .map(decodeModifiedUtf7)
          .join(MAILBOX_DELIMITER),
      );
    } catch {
      // Not a name Postwire can read: left out.
    }
  }
  return names;
}

/** The file's text for these names. */
export function serializeSubscriptions(names: readonly string[]): string {
  return (
    HEADER +
    names.map((name) => `${name.split(MAILBOX_DELIMITER).map(encodeModifiedUtf7).join('\t')}\n`).join('')
  );
}
