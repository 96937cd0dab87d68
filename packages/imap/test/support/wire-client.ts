import * as net from 'node:net';
import * as tls from 'node:tls';
import { DeflatePeer } from '../../../core/test/support/deflate-peer.js';
import { bounded } from '../../../core/test/support/net.js';

/**
 * An IMAP client at the byte level for the Node server's tests: it writes exactly the bytes it is given
 * and collects what the server says as Latin-1 text, in the clear, inside STARTTLS, or compressed after
 * `COMPRESS DEFLATE` (through node:zlib, see {@link DeflatePeer}). For comparing answers with another
 * server, see ./raw-imap.ts.
 */
export class WireClient {
  /** Settles when the server has closed the connection (or it broke). */
  readonly closed: Promise<void>;
  #socket: net.Socket;
  #peer: DeflatePeer | undefined;
  #plain = '';
  /** How much of the text `until()` has already matched. */
  #cursor = 0;
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('error', () => {});
    socket.on('data', this.#onPlain);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to the server on 127.0.0.1 and waits for its greeting. */
  static async connect(port: number): Promise<WireClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await bounded(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      }),
      'the connection',
    );
    const client = new WireClient(socket);
    await client.until('\r\n');
    return client;
  }

  /** The socket to the server (the TLS socket after {@link startTls}). */
  get socket(): net.Socket {
    return this.#socket;
  }

  /** Everything the server said, decompressed. */
  get text(): string {
    return this.#plain + (this.#peer?.text ?? '');
  }

  /** Sends `text` as it is, compressed once {@link compress} has run. */
  async send(text: string | Uint8Array): Promise<void> {
    if (this.#peer) await this.#peer.send(text);
    else this.#socket.write(text);
  }

  /** Waits for `text` after what earlier calls matched; returns everything up to and including it. */
  until(text: string, ms?: number): Promise<string> {
    return this.#wait(JSON.stringify(text), ms, (all, from) => {
      const index = all.indexOf(text, from);
      return index < 0 ? -1 : index + text.length;
    });
  }

  /** Sends a command and returns the server's answer, up to and including its tagged line. */
  async command(tag: string, command: string, ms?: number): Promise<string> {
    await this.send(`${tag} ${command}\r\n`);
    return this.#wait(`the answer to ${tag}`, ms, (all, from) => {
      for (let start = all.indexOf(`${tag} `, from); start >= 0; start = all.indexOf(`${tag} `, start + 1)) {
        if (start > 0 && all[start - 1] !== '\n') continue;
        const end = all.indexOf('\r\n', start);
        return end < 0 ? -1 : end + 2;
      }
      return -1;
    });
  }

  /** Waits until `find` locates the end of what is wanted in the text after the cursor. */
  #wait(what: string, ms: number | undefined, find: (all: string, from: number) => number): Promise<string> {
    const arrived = async (): Promise<string> => {
      for (;;) {
        const all = this.text;
        const end = find(all, this.#cursor);
        if (end >= 0) {
          const head = all.slice(this.#cursor, end);
          this.#cursor = end;
          return head;
        }
        if (this.#peer?.error) throw this.#peer.error;
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
    };
    return bounded(arrived(), what, ms);
  }

  /** `STARTTLS`, then the TLS handshake on the same socket. */
  async startTls(ca: string): Promise<void> {
    const answer = await this.command('T', 'STARTTLS');
    if (!answer.startsWith('T OK ')) throw new Error(`STARTTLS refused: ${answer}`);
    this.#socket.off('data', this.#onPlain);
    const secure = tls.connect({ socket: this.#socket, ca, servername: 'localhost' });
    secure.on('error', () => {});
    await bounded(
      new Promise<void>((resolve) => secure.once('secureConnect', () => resolve())),
      'the handshake',
    );
    secure.on('data', this.#onPlain);
    this.#socket = secure;
  }

  /** `COMPRESS DEFLATE`; from its OK on, both directions are compressed. */
  async compress(tag = 'Z'): Promise<string> {
    const answer = await this.command(tag, 'COMPRESS DEFLATE');
    if (/ OK /.test(answer)) {
      this.#socket.off('data', this.#onPlain);
      this.#peer = new DeflatePeer(this.#socket, () => this.#wakeAll());
    }
    return answer;
  }

  /** Drops the connection. */
  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onPlain = (chunk: Buffer): void => {
    this.#plain += chunk.toString('latin1');
    this.#wakeAll();
  };

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
