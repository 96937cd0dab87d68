import * as net from 'node:net';
import { decodeLatin1 } from '../../src/index.js';

/** How long a helper waits for expected bytes before failing the test. */
const WAIT = 2_000;

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
export function bounded<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits, polling every few milliseconds, until `condition` holds. */
export function waitFor(condition: () => unknown, what: string, ms = WAIT): Promise<void> {
  return bounded(
    (async () => {
      while (!condition()) await delay(5);
    })(),
    what,
    ms,
  );
}

/** Cleanup actions collected during a test and run, newest first, in `afterEach`. */
export class Cleanup {
  readonly #actions: (() => unknown)[] = [];

  /** Registers `action` and returns `value`, for one-line setup. */
  add<T>(value: T, action: (value: T) => unknown): T {
    this.#actions.push(() => action(value));
    return value;
  }

  async run(): Promise<void> {
    const actions = this.#actions.splice(0).reverse();
    for (const action of actions) await action();
  }
}

/** Reads a web stream as Latin-1 text, waiting for expected text with a bound. */
export class StreamText {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  #text = '';
  #done = false;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.reader = readable.getReader();
  }

  /** Everything received so far and not yet returned by `until()`. */
  get buffered(): string {
    return this.#text;
  }

  /** True once the stream has ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Reads one more chunk (or the end); returns its text, or `undefined` at the end. */
  async chunk(): Promise<string | undefined> {
    const { value, done } = await bounded(this.reader.read(), 'a chunk');
    if (done) {
      this.#done = true;
      return undefined;
    }
    this.#text += decodeLatin1(value);
    return decodeLatin1(value);
  }

  /** Reads until `text` has arrived; returns everything up to and including it. */
  async until(text: string): Promise<string> {
    for (;;) {
      const index = this.#text.indexOf(text);
      if (index >= 0) {
        const head = this.#text.slice(0, index + text.length);
        this.#text = this.#text.slice(index + text.length);
        return head;
      }
      if ((await this.chunk()) === undefined) throw new Error(`stream ended before ${JSON.stringify(text)}`);
    }
  }

  /** Reads to the end; returns all unreturned text. */
  async rest(): Promise<string> {
    while ((await this.chunk()) !== undefined);
    const text = this.#text;
    this.#text = '';
    return text;
  }
}

/** Collects what a raw socket receives, as Latin-1 text. */
export class SocketText {
  #text = '';
  #waiters: (() => void)[] = [];
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;
  /** Settles when the peer has finished sending (FIN) or the socket has closed. */
  readonly ended: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#text += chunk.toString('latin1');
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.ended = Promise.race([
      this.closed,
      new Promise<void>((resolve) => socket.once('end', () => resolve())),
    ]);
  }

  /** All text received so far. */
  get text(): string {
    return this.#text;
  }

  /** Waits until the received text contains `text`. */
  async until(text: string): Promise<string> {
    const arrived = async (): Promise<string> => {
      while (!this.#text.includes(text)) await new Promise<void>((wake) => this.#waiters.push(wake));
      return this.#text;
    };
    return bounded(arrived(), JSON.stringify(text));
  }
}

/** A plain TCP server on 127.0.0.1 that hands each socket to `onSocket`. */
export async function listenRaw(
  onSocket: (socket: net.Socket) => void,
): Promise<{ server: net.Server; port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = server.close.bind(server);
  server.close = (callback) => {
    for (const socket of sockets) socket.destroy();
    return close(callback);
  };
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Opens a raw TCP connection to 127.0.0.1. */
export function rawConnect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen ?? false });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}
