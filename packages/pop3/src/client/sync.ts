import { AbortError, InvalidArgumentError, type PushStream } from '@postwire/core';
import type { Mailbox } from '@postwire/store';
import type { Pop3Client } from './client.js';
import { Pop3ResponseError } from './errors.js';

import type { Pop3ClientSession } from './session.js';

/** One message a sync hands over. */
export interface Pop3SyncMessage {
  /** Its unique id (UIDL), stable across sessions. */
  readonly uid: string;
  /** Its number in this session. */
  readonly message: number;
  /** Its size as the server counts it (LIST), in octets. */
  readonly size: number;
  /** The message, streamed as it arrives, dot-stuffing removed. */
  readonly stream: ReadableStream<Uint8Array>;
}

/** Options of {@link Pop3Client.sync}. Give `onMessage` or `store`. */
export interface Pop3SyncOptions {
  /** The unique ids downloaded before: these messages are not downloaded again. */
  readonly since?: Iterable<string>;
  /**
   * `true` leaves every message on the server. `false` deletes each message once it was handed over,
   * and the messages of `since` still there too: what has been downloaded does not stay on the server.
   */
  readonly keep: boolean;
  /**
   * Takes each new message. The message counts as downloaded once the returned promise resolves; a
   * rejection ends the sync with nothing deleted. What it leaves unread of the stream is discarded.
   */
  readonly onMessage?: (message: Pop3SyncMessage) => Promise<void> | void;
  /** Appends each new message to this mailbox instead (`@postwire/store`, the user's INBOX for example). */
  readonly store?: Pick<Mailbox, 'append'>;
  /**
   * Called with each unique id once its message was handed over, before its DELE. Persist the ids here
   * to make an interrupted sync resumable without downloading anything twice.
   */
  readonly onDownloaded?: (uid: string) => Promise<void> | void;
  /** Cancels the sync: the connection closes without QUIT, so nothing is deleted. */
  readonly signal?: AbortSignal;
}

/** What a sync did. */
export interface Pop3SyncResult {
  /** The unique ids of the messages downloaded by this sync, in maildrop order. */
  readonly downloaded: readonly string[];
  /** The unique ids of the messages deleted from the server (at QUIT). */
  readonly deleted: readonly string[];
  /**
   * The unique ids downloaded, by this sync or before, of the messages still on the server: give them as
   * `since` to the next sync (ids of messages gone from the server are dropped).
   */
  readonly retained: readonly string[];
  /** The unique ids of the messages the server refused to send (`-ERR` to RETR); they stay, not downloaded. */
  readonly skipped: readonly string[];
}

/** RETR commands sent ahead of the message being handed over, when the server pipelines. */
const PIPELINE_WINDOW = 32;

/**
 * Runs a sync on a logged-in session: UIDL and LIST, RETR of each message not in `since` (several ahead
 * with PIPELINING), DELE after each hand-over unless `keep`, then QUIT, where the server deletes. Any
 * failure drops the connection without QUIT, so an interrupted sync deletes nothing and can be run again.
 */
export async function syncMaildrop(
  session: Pop3ClientSession,
  client: Pop3Client,
  options: Pop3SyncOptions,
): Promise<Pop3SyncResult> {
  const { onMessage, store, signal } = options;
  if ((onMessage === undefined) === (store === undefined)) {
    throw new InvalidArgumentError('sync takes either onMessage or store');
  }
  const deliver =
    onMessage ??
    (async ({ stream }: Pop3SyncMessage): Promise<void> => {
      await store!.append(stream);
    });
  if (signal?.aborted) {
    await session.close();
    throw new AbortError(undefined, { cause: signal.reason });
  }
  const onAbort = (): void => session.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [ids, scan] = await Promise.all([client.uidl(), client.list()]);
    const sizes = new Map(scan.map(({ message, size }) => [message, size]));
    const since = new Set(options.since);
    const fresh = ids.filter(({ uid }) => !since.has(uid));
    const downloaded: string[] = [];
    const skipped: string[] = [];
    const deletions: Promise<{ uid: string; deleted: boolean } | { error: unknown }>[] = [];
    const remove = (uid: string, message: number): void => {
      if (options.keep) return;
      deletions.push(
        client.dele(message).then(
          () => ({ uid, deleted: true }),
          (error: unknown) => (error instanceof Pop3ResponseError ? { uid, deleted: false } : { error }),
        ),
      );
    };
    for (const { uid, message } of ids) if (since.has(uid)) remove(uid, message);

    const window = client.capabilities.pipelining ? PIPELINE_WINDOW : 1;
    const retrievals: Promise<PushStream>[] = [];
    const retrieveUpTo = (count: number): void => {
      while (retrievals.length < Math.min(count, fresh.length)) {
        const retrieval = session.message({ verb: 'RETR', message: fresh[retrievals.length]!.message });
        retrieval.catch(() => {});
        retrievals.push(retrieval);
      }
    };
    for (const [index, { uid, message }] of fresh.entries()) {
      retrieveUpTo(index + window);
      let body: PushStream;
      try {
        body = await retrievals[index]!;
      } catch (error) {
        if (!(error instanceof Pop3ResponseError)) throw error;
        skipped.push(uid);
        continue;
      }
      try {
        await deliver({ uid, message, size: sizes.get(message) ?? 0, stream: body.stream });
      } finally {
        body.discard();
      }
      await body.done;
      downloaded.push(uid);
      await options.onDownloaded?.(uid);
      remove(uid, message);
    }

    const deleted: string[] = [];
    for (const outcome of await Promise.all(deletions)) {
      if ('error' in outcome) throw outcome.error;
      if (outcome.deleted) deleted.push(outcome.uid);
    }
    await client.quit();
    const gone = new Set(deleted);
    const have = new Set([...since, ...downloaded]);
    return {
      downloaded,
      deleted,
      retained: ids.map(({ uid }) => uid).filter((uid) => have.has(uid) && !gone.has(uid)),
      skipped,
    };
  } catch (error) {
    await session.close();
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
