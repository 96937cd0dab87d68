import type { Transport } from '@postwire/core';

/**
 * A transport that can compress in place (IMAP COMPRESS=DEFLATE, RFC 4978). The client compresses only
 * when its connector returns one: compression needs zlib, which belongs to a runtime adapter, and
 * `@postwire/imap/node`'s connector provides it.
 */
export interface CompressibleTransport extends Transport {
  /**
   * From the next byte on, both directions are raw DEFLATE (RFC 1951): what is written is compressed
   * and sync-flushed write by write, what is read is inflated as it is read, never far ahead of it.
   */
  compress(): void;
}

/** Whether `transport` can compress. */
export function canCompress(transport: Transport): transport is CompressibleTransport {
  return typeof (transport as Partial<CompressibleTransport>).compress === 'function';
}
