import * as net from 'node:net';
import { createDeadline, type Deadline } from '../deadline.js';
import { ConnectionError, ErrorCode, InvalidArgumentError, PostwireError, TimeoutError } from '../errors.js';
import { resolveLimits } from '../limits.js';
import { type ProxyHeader, ProxyHeaderParser } from '../proxy-protocol.js';
import { startTimer } from '../timer.js';
import { type ServerTlsOptions, serverTlsUpgrade, type TlsUpgrade } from './tls.js';
import { NodeTransport } from './transport.js';

/** Why the listener is about to close a connection: server shutdown, no traffic, or a command deadline. */
export type GoodbyeReason = 'shutdown' | 'idle' | 'timeout';

/** Why a connection was refused: too many connections in all, or from its address. */
export type RefusalReason = 'max-connections' | 'max-connections-per-ip';

/** What a protocol returns for each connection so the listener can let it take its leave. */
export interface ConnectionHandler {
  /**
   * Writes the protocol's farewell (SMTP `421 4.3.2`, IMAP `* BYE`, POP3 `-ERR`) before the listener
   * closes the connection. It has `goodbyeTimeout` ms; then the connection is closed regardless.
   */
  goodbye?(reason: GoodbyeReason): void | Promise<void>;
}

/** One accepted connection, as handed to the protocol. */
export interface ServerConnection {
  /** A number unique within the listener, for logs. */
  readonly id: number;
  /**
   * The byte stream. After `startTls()`, use the transport it returns; closing this one closes the
   * connection. A Node transport: a Node adapter may use its `read()` and `write()` fast path.
   */
  readonly transport: NodeTransport;
  /** The client's address: the one a trusted proxy declared, or else the socket's peer. IPv4-mapped IPv6 is shown as IPv4. */
  readonly remoteAddress: string;
  /** The client's port, declared by the proxy or from the socket. */
  readonly remotePort: number;
  /** The PROXY header the load balancer sent, when the listener expects one. */
  readonly proxy?: ProxyHeader;
  /**
   * Fires after `idleTimeout` ms without a byte in either direction, then says goodbye with
   * `idle` and closes. Pushed back automatically on traffic; `reset(ms)` changes the duration (for
   * example a short login timeout first, a longer one after authentication).
   */
  readonly idleDeadline: Deadline;
  /**
   * A whole-command deadline against slow senders, not armed until the protocol calls `reset()` at
   * the first byte of a command; `clear()` it when the command is complete. On expiry the listener
   * says goodbye with `timeout` and closes.
   */
  readonly commandDeadline: Deadline;
  /** Closes the connection without a goodbye. */
  close(): Promise<void>;
}

/** A connection over a limit, handed to `onRefused` so the protocol can say why before it is closed. */
export interface RefusedConnection {
  /** The refused connection. */
  readonly transport: NodeTransport;
  /** The peer's address. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** Which limit it went over. */
  readonly reason: RefusalReason;
}

/** Settings of {@link createListener}. Every duration is in milliseconds and may be `Infinity`. */
export interface ListenerOptions {
  /** The address to bind (default `127.0.0.1`; `::` or `0.0.0.0` for every interface). */
  host?: string;
  /** The port (default 0: any free port, reported by `listen()`). */
  port?: number;
  /** Implicit TLS from the first byte (SMTPS, IMAPS, POP3S). */
  tls?: ServerTlsOptions;
  /** The TLS settings behind `transport.startTls()`; without them `startTls()` rejects. */
  startTls?: ServerTlsOptions;
  /** Connections served at once, in all (default 1,000). */
  maxConnections?: number;
  /** Connections served at once from one client address (default 50). */
  maxConnectionsPerIp?: number;
  /** Time without traffic before goodbye(`idle`) (default 300,000). */
  idleTimeout?: number;
  /** The duration of each connection's command deadline (default 300,000). */
  commandTimeout?: number;
  /** Time allowed for a PROXY header and a TLS handshake, implicit or STARTTLS (default 10,000). */
  handshakeTimeout?: number;
  /** Time allowed for `goodbye()` or `onRefused()` (default 5,000). */
  goodbyeTimeout?: number;
  /** Time a closing connection waits for the client to close its side (default 2,000). */
  closeTimeout?: number;
  /**
   * Expect a PROXY header (v1 or v2) as the first bytes of every connection. Only addresses in
   * `trusted` (single addresses or CIDR blocks such as `10.0.0.0/8`) may connect; any other peer,
   * and any malformed header, is closed at once.
   */
  proxyProtocol?:
    | false
    | {
        /** The proxies allowed to connect. */
        trusted: readonly string[];
      };
  /** Starts the protocol on a new connection; the returned handler receives goodbyes. */
  onConnection(connection: ServerConnection): ConnectionHandler | Promise<ConnectionHandler>;
  /** Writes the protocol's refusal (for example SMTP `421`) before a connection over a limit is closed. */
  onRefused?(connection: RefusedConnection): void | Promise<void>;
  /** Hears of failures that only close one connection: bad PROXY headers, failed handshakes, handler errors. */
  onError?(error: unknown, remoteAddress: string | undefined): void;
}

/** The settings of {@link ListenerOptions} that a protocol server passes through from its own options. */
export type ListenerSettings = Omit<ListenerOptions, 'onConnection' | 'onRefused' | 'onError'>;

const LISTENER_SETTINGS = [
  'host',
  'port',
  'tls',
  'startTls',
  'maxConnections',
  'maxConnectionsPerIp',
  'idleTimeout',
  'commandTimeout',
  'handshakeTimeout',
  'goodbyeTimeout',
  'closeTimeout',
  'proxyProtocol',
] as const satisfies readonly (keyof ListenerSettings)[];

/**
 * The listener settings among a protocol server's options, those set only: what an SMTP, POP3 or IMAP
 * server hands to {@link createListener} besides its own handlers.
 */
export function listenerSettings(options: Partial<ListenerSettings>): ListenerSettings {
  const settings: Record<string, unknown> = {};
  for (const key of LISTENER_SETTINGS) {
    if (options[key] !== undefined) settings[key] = options[key];
  }
  return settings as ListenerSettings;
}

/** A listening server; see {@link createListener}. */
export interface Listener {
  /** Starts accepting connections; resolves with the bound address and port. */
  listen(): Promise<{
    /** The address bound to. */
    host: string;
    /** The port bound to. */
    port: number;
  }>;
  /**
   * Stops accepting, says goodbye(`shutdown`) to every connection and closes it, and resolves once
   * all are closed. Connections still open after `timeout` ms (default 10,000) are dropped.
   */
  close(options?: { timeout?: number }): Promise<void>;
  /** Connections being served now, refused ones excluded. */
  readonly connections: number;
}

/** One accepted socket, from accept to close. */
interface Tracked {
  /** The socket: the accepted one, then the TLS socket over it once implicit TLS is up. */
  socket: net.Socket;
  /** Set once the socket has a transport (after the PROXY header and any implicit TLS). */
  transport?: NodeTransport;
  /** Set once the connection is admitted and handed to the protocol. */
  connection?: Connection;
  /** Settles when the connection is closed and its counts released. */
  done?: Promise<void>;
}

/** Drops a tracked connection at once. */
function destroy(tracked: Tracked): void {
  if (tracked.transport) tracked.transport.destroy();
  else tracked.socket.destroy();
}

const DEFAULTS = {
  maxConnections: 1_000,
  maxConnectionsPerIp: 50,
  idleTimeout: 300_000,
  commandTimeout: 300_000,
  handshakeTimeout: 10_000,
  goodbyeTimeout: 5_000,
  closeTimeout: 2_000,
};
/** How long `close()` waits by default for connections to end, and a server then for its sessions' ends (ms). */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;
const noop = (): void => {};
const NO_HANDLER: Promise<ConnectionHandler | undefined> = Promise.resolve(undefined);

/**
 * Creates a TCP server that does the protocol-neutral part of serving: connection limits in all
 * and per client address, the PROXY header, implicit TLS, handshake and idle deadlines, and a
 * graceful shutdown that lets each protocol say goodbye. The protocol receives a
 * {@link ServerConnection} per client in `onConnection` and owns the conversation from there.
 */
export function createListener(options: ListenerOptions): Listener {
  return new NodeListener(options);
}

class NodeListener implements Listener {
  /** The options and the resolved limits, which each {@link Connection} reads instead of keeping copies. */
  readonly options: ListenerOptions;
  readonly settings: Readonly<typeof DEFAULTS>;
  readonly #server: net.Server;
  readonly #implicitTls: TlsUpgrade | undefined;
  readonly #startTls: TlsUpgrade | undefined;
  readonly #trusted: net.BlockList | undefined;
  /** Connections being served, whether still in their handshake or admitted. */
  readonly #active = new Set<Tracked>();
  /** Connections over a limit, being told so. */
  readonly #refused = new Set<Tracked>();
  readonly #perIp = new Map<string, number>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
    this.options = options;
    const overrides = Object.fromEntries(
      Object.keys(DEFAULTS).map((name) => [name, options[name as keyof typeof DEFAULTS]]),
    );
    this.settings = resolveLimits(DEFAULTS, overrides);
    const { handshakeTimeout } = this.settings;
    this.#implicitTls = options.tls && serverTlsUpgrade(options.tls, handshakeTimeout);
    this.#startTls = options.startTls && serverTlsUpgrade(options.startTls, handshakeTimeout);
    this.#trusted = options.proxyProtocol ? trustList(options.proxyProtocol.trusted) : undefined;
    this.#server = net.createServer((socket) => this.#accept(socket));
    this.#server.on('error', (error) => this.report(error, undefined));
  }

  get connections(): number {
    return this.#active.size;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 0 }, () => {
        this.#server.off('error', reject);
        const address = this.#server.address() as net.AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  close(options: { timeout?: number } = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT);
    return this.#closing;
  }

  /** Hears of a failure that only closes one connection. */
  report(error: unknown, remoteAddress: string | undefined): void {
    this.options.onError?.(error, remoteAddress);
  }

  async #shutdown(timeout: number): Promise<void> {
    const wasListening = this.#server.listening;
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const everyone = [...this.#active, ...this.#refused];
    for (const tracked of everyone) {
      if (tracked.connection) void tracked.connection.terminate('shutdown');
      else destroy(tracked);
    }
    const finished = Promise.all(everyone.map((tracked) => tracked.done));
    await within(finished, timeout);
    for (const tracked of everyone) destroy(tracked);
    await finished;
    if (wasListening) await stopped;
  }

  #accept(socket: net.Socket): void {
    socket.on('error', noop);
    socket.setNoDelay(true);
    const peer = socket.remoteAddress && normalizeAddress(socket.remoteAddress);
    const overLimit = this.#active.size >= this.settings.maxConnections;
    if (
      this.#closing ||
      peer === undefined ||
      (overLimit && this.#refused.size >= this.settings.maxConnections)
    ) {
      socket.destroy();
      return;
    }
    const tracked: Tracked = { socket };
    (overLimit ? this.#refused : this.#active).add(tracked);
    tracked.done = this.#serve(tracked, peer);
  }

  /**
   * Takes a connection through its PROXY header, limits and implicit TLS, then hands it to the
   * protocol. Resolves once it is closed and its per-address count released; never rejects.
   */
  async #serve(tracked: Tracked, peer: string): Promise<void> {
    const settings = this.settings;
    let timedOut = false;
    // A deadline only when there is a handshake to wait for: a plain connection is served at once.
    const handshake =
      this.#trusted || this.#implicitTls
        ? createDeadline(settings.handshakeTimeout, () => {
            timedOut = true;
            destroy(tracked);
          })
        : undefined;
    let countedAddress: string | undefined;
    let transport: NodeTransport;
    try {
      let proxy: ProxyHeader | undefined;
      if (this.#trusted) {
        if (!this.#trusted.check(peer, net.isIPv6(peer) ? 'ipv6' : 'ipv4')) {
          throw new PostwireError(ErrorCode.ProxyProtocol, `${peer} is not a trusted proxy`);
        }
        proxy = await readProxyHeader(tracked.socket);
      }
      const declared = proxy?.family === 'inet' || proxy?.family === 'inet6' ? proxy.source : undefined;
      const remoteAddress = declared ? normalizeAddress(declared.address) : peer;
      const remotePort = declared ? declared.port : (tracked.socket.remotePort ?? 0);
      let reason: RefusalReason | undefined = this.#refused.has(tracked) ? 'max-connections' : undefined;
      if (reason === undefined && (this.#perIp.get(remoteAddress) ?? 0) >= settings.maxConnectionsPerIp) {
        reason = 'max-connections-per-ip';
        this.#active.delete(tracked);
        this.#refused.add(tracked);
      }
      if (reason === undefined) {
        countedAddress = remoteAddress;
        this.#perIp.set(remoteAddress, (this.#perIp.get(remoteAddress) ?? 0) + 1);
      }
      if (this.#implicitTls) tracked.socket = await this.#implicitTls(tracked.socket);
      handshake?.clear();
      if (reason !== undefined) {
        transport = new NodeTransport(tracked.socket, {
          role: 'server',
          closeTimeout: settings.closeTimeout,
        });
        // The transport hears the socket's errors now: one listener, not an array of two, per socket.
        tracked.socket.off('error', noop);
        tracked.transport = transport;
        await this.#refuse({ transport, remoteAddress, remotePort, reason });
      } else {
        const connection = new Connection(this, tracked.socket, {
          id: this.#nextId++,
          remoteAddress,
          remotePort,
          proxy,
          startTls: this.#startTls,
        });
        transport = connection.transport;
        tracked.socket.off('error', noop);
        tracked.transport = transport;
        tracked.connection = connection;
        connection.start();
        if (this.#closing) void connection.terminate('shutdown');
      }
    } catch (error) {
      const timeout = `handshake (PROXY header, TLS) not complete within ${settings.handshakeTimeout} ms`;
      this.report(timedOut ? new TimeoutError(timeout) : error, peer);
      handshake?.clear();
      destroy(tracked);
      this.#release(tracked, countedAddress);
      return;
    }
    // Not awaited, so that no suspended call stays behind for the connection's lifetime.
    const closed = (): void => this.#release(tracked, countedAddress);
    return transport.closed.then(closed, closed);
  }

  /** Forgets a connection that has closed, and takes it off its address's count. */
  #release(tracked: Tracked, countedAddress: string | undefined): void {
    tracked.connection?.stop();
    this.#active.delete(tracked);
    this.#refused.delete(tracked);
    if (countedAddress === undefined) return;
    const count = (this.#perIp.get(countedAddress) ?? 1) - 1;
    if (count > 0) this.#perIp.set(countedAddress, count);
    else this.#perIp.delete(countedAddress);
  }

  async #refuse(refused: RefusedConnection): Promise<void> {
    const { onRefused } = this.options;
    if (onRefused) {
      try {
        await within(Promise.resolve(onRefused(refused)), this.settings.goodbyeTimeout);
      } catch (error) {
        this.report(error, refused.remoteAddress);
      }
    }
    await refused.transport.close();
  }
}

/** What the listener knows of a connection it admits. */
interface ConnectionInit {
  id: number;
  remoteAddress: string;
  remotePort: number;
  proxy: ProxyHeader | undefined;
  startTls: TlsUpgrade | undefined;
}

/** An admitted connection: its transport, its two deadlines, and the way out (goodbye, then close). */
class Connection implements ServerConnection {
  readonly id: number;
  readonly transport: NodeTransport;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly proxy?: ProxyHeader;
  readonly idleDeadline: Deadline;
  readonly commandDeadline: Deadline;
  readonly #listener: NodeListener;
  #handler: Promise<ConnectionHandler | undefined> = NO_HANDLER;
  #terminating: Promise<void> | undefined;

  constructor(listener: NodeListener, socket: net.Socket, init: ConnectionInit) {
    const { settings } = listener;
    this.#listener = listener;
    this.id = init.id;
    this.remoteAddress = init.remoteAddress;
    this.remotePort = init.remotePort;
    if (init.proxy) this.proxy = init.proxy;
    this.idleDeadline = createDeadline(settings.idleTimeout, () => void this.terminate('idle'), {
      start: false,
    });
    this.commandDeadline = createDeadline(settings.commandTimeout, () => void this.terminate('timeout'), {
      start: false,
    });
    this.transport = new NodeTransport(socket, {
      role: 'server',
      upgrade: init.startTls,
      onActivity: () => this.idleDeadline.reset(),
      closeTimeout: settings.closeTimeout,
    });
  }

  /** Hands the connection to the protocol; a failing `onConnection` closes it. */
  start(): void {
    this.idleDeadline.reset();
    const { onConnection } = this.#listener.options;
    this.#handler = (async (): Promise<ConnectionHandler | undefined> => onConnection(this))().catch(
      (error: unknown) => {
        this.#report(error);
        void this.close();
        return undefined;
      },
    );
  }

  /** Says goodbye (bounded by the goodbye timeout), then closes. Runs once. */
  terminate(reason: GoodbyeReason): Promise<void> {
    this.#terminating ??= (async () => {
      this.stop();
      const farewell = this.#handler.then((handler) => handler?.goodbye?.(reason));
      try {
        await within(farewell, this.#listener.settings.goodbyeTimeout);
      } catch (error) {
        this.#report(error);
      }
      this.stop();
      await this.transport.close();
    })();
    return this.#terminating;
  }

  /** Disarms both deadlines. */
  stop(): void {
    this.idleDeadline.clear();
    this.commandDeadline.clear();
  }

  close(): Promise<void> {
    this.stop();
    return this.transport.close();
  }

  #report(error: unknown): void {
    this.#listener.report(error, this.remoteAddress);
  }
}

/** Reads the PROXY header from the first bytes and puts whatever followed it back into the socket. */
function readProxyHeader(socket: net.Socket): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    const parser = new ProxyHeaderParser();
    const finish = (): void => {
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      try {
        const result = parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (result.status === 'incomplete') return;
        finish();
        const { rest } = result;
        if (rest.length > 0) socket.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength));
        resolve(result.header);
      } catch (error) {
        finish();
        reject(error);
      }
    };
    const onClose = (): void => {
      finish();
      reject(
        new ConnectionError(ErrorCode.ConnectionClosed, 'the connection closed before its PROXY header'),
      );
    };
    socket.on('data', onData);
    socket.once('end', onClose);
    socket.once('close', onClose);
  });
}

/** Builds the set of proxy addresses from single addresses and CIDR blocks. */
function trustList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = net.isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (
      family === 0 ||
      (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= (family === 4 ? 32 : 128)))
    ) {
      throw new InvalidArgumentError(`not an address or CIDR block: ${entry}`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/** Shows an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as the IPv4 address it is. */
function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** Waits for `promise`, but no longer than `ms`; rejections pass through. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = startTimer(ms, resolve);
  });
  try {
    await Promise.race([promise, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The sessions of a server whose end the application has not yet heard of (its `onClose` hook), so that
 * the server's `close()` can wait for them after the listener has closed the connections.
 */
export class LiveSessions {
  #count = 0;
  #whenNone: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /** A session has started. */
  add(): void {
    this.#count++;
  }

  /**
   * A session has ended: tells the application by `onClose` (an error it throws goes to `onError`), and
   * counts the session as ended once that has settled.
   */
  async end(onClose: () => unknown, onError: (error: unknown) => void): Promise<void> {
    try {
      await onClose();
    } catch (error) {
      onError(error);
    } finally {
      if (--this.#count === 0) this.#whenNone?.();
    }
  }

  /**
   * A server's `close()`: closes `listener`, then waits for the sessions' ends, each step for up to
   * `options.timeout` ({@link DEFAULT_SHUTDOWN_TIMEOUT} by default); the same promise however often it is called.
   */
  close(listener: Listener, options?: { readonly timeout?: number }): Promise<void> {
    this.#closing ??= listener
      .close(options)
      .then(() => this.ended(options?.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT));
    return this.#closing;
  }

  /** Resolves once no session is left, or after `ms` (which may be `Infinity`). */
  async ended(ms: number): Promise<void> {
    if (this.#count === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#whenNone = resolve;
      timer = startTimer(ms, resolve);
    });
    clearTimeout(timer);
    this.#whenNone = undefined;
  }
}
