import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterEach } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';

export const certificates = testCertificates();
/** The server side of STARTTLS and implicit TLS, for `localhost`. */
export const serverTls = { cert: certificates.cert, key: certificates.key };

/** Closes every server a test started, after each test of the file that calls it. */
export function closeServersAfterEach(): SmtpServer[] {
  const servers: SmtpServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
  });
  return servers;
}

/** Starts a server on loopback, kept in `servers` to be closed; resolves with its port. */
export async function startServer(
  servers: SmtpServer[],
  options: Partial<SmtpServerOptions> = {},
): Promise<number> {
  const server = createSmtpServer({ hostname: 'mx.test', ...options });
  servers.push(server);
  return (await server.listen()).port;
}

/** Waits until `condition` holds, polling, for at most `ms`. */
export async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const start = Date.now(); !condition() && Date.now() - start < ms; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Final reply lines (`ddd text`) in a transcript. */
function finalReplies(text: string): number {
  return (text.match(/^\d{3}(?: [^\r\n]*)?\r\n/gm) ?? []).length;
}

/**
 * A raw client that speaks one flight at a time: each `send` waits for the number of final replies it
 * expects (or for the connection to close), and returns what the server said to it.
 */
export class Conversation {
  #socket: Socket | TLSSocket;
  #text = '';
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  /** Connects, writes `preface` first (a PROXY header) if given, and waits for the greeting. */
  static async open(port: number, preface?: string): Promise<Conversation> {
    const socket = connectTcp(port, '127.0.0.1');
    await once(socket, 'connect');
    const conversation = new Conversation(socket);
    if (preface) socket.write(preface);
    await conversation.#wait(1);
    return conversation;
  }

  /** Everything the server said so far. */
  get text(): string {
    return this.#text;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Writes `input` and waits for `replies` more final replies, or the close; returns them. */
  async send(input: string, replies = 1): Promise<string> {
    const before = this.#text.length;
    const count = finalReplies(this.#text);
    this.#socket.write(input);
    await this.#wait(count + replies);
    return this.#text.slice(before);
  }

  /** Writes without waiting for anything. */
  write(input: string): void {
    this.#socket.write(input);
  }

  /** EHLO, STARTTLS, the TLS handshake (trusting the test CA), and EHLO again; returns the last EHLO reply. */
  async startTls(): Promise<string> {
    await this.send('EHLO client.test\r\n');
    const ready = await this.send('STARTTLS\r\n');
    if (!ready.startsWith('220 ')) throw new Error(`STARTTLS refused: ${ready}`);
    const raw = this.#socket;
    raw.off('data', this.#onData);
    const secure = connectTls({ socket: raw, ca: certificates.ca, servername: 'localhost' });
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    secure.on('data', this.#onData);
    this.#socket = secure;
    return this.send('EHLO client.test\r\n');
  }

  /** Drops the connection. */
  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onData = (data: Buffer): void => {
    this.#text += data.toString('utf8');
  };

  async #wait(replies: number): Promise<void> {
    await until(() => this.#closed || finalReplies(this.#text) >= replies);
  }
}

/** Reads a web stream to its end, as text. */
export async function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/** `text` as base64. */
export function base64(text: string | Uint8Array): string {
  return Buffer.from(typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64');
}
