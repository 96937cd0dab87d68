import { OverQuotaError } from './errors.js';
import type { MailboxStatus, QuotaUsage } from './types.js';

/** A user's limits: octets over all mailboxes, and number of messages. */
export interface QuotaLimits {
  /** The most octets, over all mailboxes. */
  readonly storage?: number;
  /** The most messages, over all mailboxes. */
  readonly messages?: number;
}

/** The usage of a user's mailboxes (their statuses) against the limits. */
export function quotaUsage(statuses: Iterable<MailboxStatus>, limits: QuotaLimits): QuotaUsage {
  let storage = 0;
  let messages = 0;
  for (const status of statuses) {
    storage += status.size;
    messages += status.messages;
  }
  return {
    storage,
    messages,
    ...(limits.storage !== undefined ? { storageLimit: limits.storage } : {}),
    ...(limits.messages !== undefined ? { messageLimit: limits.messages } : {}),
  };
}

/**
 * Throws `OverQuotaError` when adding `messages` messages of `size` octets in all to `usage` (read only
 * when there are limits) would exceed them.
 */
export async function assertWithinQuota(
  usage: () => Promise<QuotaUsage>,
  limits: QuotaLimits,
  size: number,
  messages: number,
): Promise<void> {
  if (limits.storage === undefined && limits.messages === undefined) return;
  assertRoomInQuota(await usage(), limits, size, messages);
}

/**
 * Throws `OverQuotaError` when adding `messages` messages of `size` octets in all to the usage `current`
 * would exceed the limits: {@link assertWithinQuota} for a usage at hand, checked in the same turn as the
 * addition it allows, so that no concurrent one slips in between.
 */
export function assertRoomInQuota(
  current: QuotaUsage,
  limits: QuotaLimits,
  size: number,
  messages: number,
): void {
  if (limits.storage !== undefined && current.storage + size > limits.storage) {
    throw new OverQuotaError('the message would exceed the storage quota');
  }
  if (limits.messages !== undefined && current.messages + messages > limits.messages) {
    throw new OverQuotaError('the message would exceed the message quota');
  }
}
