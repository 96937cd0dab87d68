import type { ChannelBindingType, ConnectOptions, TransportInfo } from '@postwire/core';
import { connect, DeflateTransport, type NodeTransport } from '@postwire/core/node';
import type { CompressibleTransport } from '../client/compress.js';

/**
 * A Node connection for the IMAP client that can start compressing in place. Its streams read and
 * write through `NodeTransport`'s fast path, then, after {@link compress}, through a
 * `DeflateTransport` over the same socket: the client keeps the same reader and writer across the
 * switch, and the inflater runs only as far as the client reads, so the grammar's limits meet
 * inflated bytes in bounded memory.
 */
export class NodeCompressibleTransport implements CompressibleTransport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #inner: NodeTransport;
  #active: NodeTransport | DeflateTransport;

  /** Wraps `inner`, which this transport owns from now on. */
  constructor(inner: NodeTransport) {
    this.#inner = inner;
    this.#active = inner;
    // No read ahead: the switch happens between two reads, and no byte read before it is inflated.
    this.readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.#active.read();
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#active.write(chunk),
      close: () => this.close(),
      abort: () => this.#active.destroy(),
    });
  }

  get info(): TransportInfo {
    return this.#inner.info;
  }

  get closed(): Promise<void> {
    return this.#inner.closed;
  }

  compress(): void {
    if (this.#active === this.#inner) this.#active = new DeflateTransport(this.#inner);
  }

  /** Upgrades to TLS; refused once compressing (no TLS inside compression). */
  async startTls(): Promise<NodeCompressibleTransport> {
    if (this.#active instanceof DeflateTransport) return this.#active.startTls();
    return new NodeCompressibleTransport(await this.#inner.startTls());
  }

  channelBinding(type: ChannelBindingType): Uint8Array | undefined {
    return this.#inner.channelBinding(type);
  }

  /** Closes the connection, and frees the compression state. */
  close(): Promise<void> {
    return this.#active.close();
  }
}

/** `@postwire/core/node`'s `connect`, its transport able to compress. */
export async function connectCompressible(options: ConnectOptions): Promise<NodeCompressibleTransport> {
  return new NodeCompressibleTransport(await connect(options));
}
