import { LimitExceededError } from '@postwire/core';
import type { MailboxChange } from './types.js';

/** Changes a subscriber may leave unread before its feed fails (it must then re-read the mailbox). */
export const MAX_UNREAD_CHANGES = 10_000;

interface Subscriber {
  readonly queue: MailboxChange[];
  wake: (() => void) | undefined;
  failed: boolean;
  ended: boolean;
}

/**
 * The signal that ends a mailbox's subscription: its `closed` signal, or, when the caller gave one too,
 * either (a combined signal costs memory in every idle session, so it is made only then).
 */
export function untilClosed(closed: AbortSignal, signal: AbortSignal | undefined): AbortSignal {
  return signal ? AbortSignal.any([closed, signal]) : closed;
}

/**
 * Fans the changes of one mailbox out to its subscribers, in the order they were published, so that
 * every session in the process sees one order. A subscriber that falls {@link MAX_UNREAD_CHANGES}
 * behind gets a `LimitExceededError` instead of an ever-growing queue.
 */
export class ChangeFeed {
  readonly #subscribers = new Set<Subscriber>();
  /** {@link end} was called: later subscriptions end at once. */
  #ended = false;

  /** True while anyone listens (a backend may then watch for other writers). */
  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Hands a change to every subscriber. */
  publish(change: MailboxChange): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.queue.length >= MAX_UNREAD_CHANGES) subscriber.failed = true;
      else subscriber.queue.push(change);
      subscriber.wake?.();
    }
  }

  /** The changes published from now on, until `signal` aborts or {@link end} is called. */
  async *subscribe(signal?: AbortSignal): AsyncIterable<MailboxChange> {
    if (signal?.aborted || this.#ended) return;
    const subscriber: Subscriber = { queue: [], wake: undefined, failed: false, ended: false };
    const onAbort = () => {
      subscriber.ended = true;
      subscriber.wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#subscribers.add(subscriber);
    try {
      for (;;) {
        if (subscriber.failed) {
          throw new LimitExceededError('unreadChanges', MAX_UNREAD_CHANGES, 'the change feed was not read');
        }
        const change = subscriber.queue.shift();
        if (change) {
          yield change;
          continue;
        }
        if (subscriber.ended) return;
        await new Promise<void>((resolve) => {
          subscriber.wake = resolve;
        });
        subscriber.wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#subscribers.delete(subscriber);
    }
  }

  /** Ends every subscription once its queued changes are read. */
  end(): void {
    this.#ended = true;
    for (const subscriber of this.#subscribers) {
      subscriber.ended = true;
      subscriber.wake?.();
    }
  }
}
