import { parentNames } from './names.js';
import type { MailboxListEntry, SpecialUse } from './types.js';

/**
 * A user's list as every backend reports it: the existing mailboxes (with their SPECIAL-USE attribute),
 * the subscriptions, and the parents that only exist as parents, sorted by name.
 */
export function mailboxListEntries(
  mailboxes: ReadonlyMap<string, SpecialUse | undefined>,
  subscriptions: Iterable<string>,
): MailboxListEntry[] {
  const subscribed = new Set(subscriptions);
  const names = new Set([...mailboxes.keys(), ...subscribed]);
  for (const name of [...names]) for (const parent of parentNames(name)) names.add(parent);
  const parents = new Set([...names].flatMap((name) => parentNames(name)));
  return [...names].sort().map((name) => {
    const specialUse = mailboxes.get(name);
    return {
      name,
      ...(specialUse ? { specialUse } : {}),
      subscribed: subscribed.has(name),
      exists: mailboxes.has(name),
      hasChildren: parents.has(name),
    };
  });
}
