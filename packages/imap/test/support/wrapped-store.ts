import type { Mailbox, MailStore, UserMail } from '@postwire/store';

/** `target` with `overrides` in place of some of its members; the others are its own, bound to it. */
export function bound<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (key in overrides) return overrides[key as keyof T];
      const value = Reflect.get(object, key, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** `base` with each mailbox it opens changed by `mailbox`. */
export function wrapMailboxes(base: MailStore, mailbox: (box: Mailbox) => Mailbox): MailStore {
  const user = (mail: UserMail): UserMail =>
    bound(mail, { open: async (name) => mailbox(await mail.open(name)) });
  return bound(base, { user: async (name) => user(await base.user(name)) });
}
