import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, for tests of a link that drops: {@link cut} breaks every
 * connection through it, {@link hold} keeps new ones waiting (accepted, not yet joined to the server)
 * until {@link release}, and the bytes that cross it are counted.
 */
export class LinkProxy {
  /** Bytes from the server to the client, and from the client to the server. */
  down = 0;
  up = 0;
  /** Connections accepted so far. */
  accepted = 0;
  readonly #server: Server;
  readonly #target: number;
  readonly #sockets = new Set<Socket>();
  #held: Socket[] | undefined;

  private constructor(target: number) {
    this.#target = target;
    this.#server = createServer((client) => {
      this.accepted++;
      this.#track(client);
      if (this.#held) this.#held.push(client);
      else this.#join(client);
    });
  }

  /** A proxy to `127.0.0.1:target`, listening on a free loopback port. */
  static async start(target: number): Promise<LinkProxy> {
    const proxy = new LinkProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** Drops every connection now, both sides, without a FIN's courtesy. */
  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** New connections wait until {@link release}. */
  hold(): void {
    this.#held ??= [];
  }

  /** Joins the waiting connections to the server, and those to come. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const client of held) if (!client.destroyed) this.#join(client);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #join(client: Socket): void {
    const server = connect(this.#target, '127.0.0.1');
    this.#track(server);
    client.on('data', (chunk: Buffer) => {
      this.up += chunk.length;
    });
    server.on('data', (chunk: Buffer) => {
      this.down += chunk.length;
    });
    client.pipe(server);
    server.pipe(client);
    const drop = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on('close', drop);
    server.on('close', drop);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.#sockets.delete(socket));
  }
}
