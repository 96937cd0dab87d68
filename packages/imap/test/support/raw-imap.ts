import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * A raw IMAP conversation over one plain TCP connection, for comparing two servers answer by answer:
 * send one command (literals included), collect every response until its tag completes, and hand back
 * the responses as the server wrote them. No parsing beyond what framing needs: a response is its line
 * plus any literals (`{n}\r\n` and n octets) and the lines that continue it, without the final CRLF,
 * as a binary string: one character per octet (latin1), so that literals of any octets keep their
 * sizes. {@link readableText} turns one into UTF-8 text where it is that.
 */

/** What a server answered to one command. */
export interface RawReply {
  /** The untagged (`* …`) responses, in order. */
  readonly untagged: string[];
  /** The command continuation requests (`+ …`) the server sent for literals or AUTHENTICATE. */
  readonly continuations: string[];
  /** The tagged status response: `A001 OK …`. */
  readonly tagged: string;
  /** `OK`, `NO` or `BAD`, from {@link tagged}. */
  readonly status: string;
}

/** A literal argument of a command: sent as `{n}` and, after the server's `+`, its octets. */
export interface Literal {
  readonly literal: string | Uint8Array;
}

/** A command: text, or text and literals in order (the text must end each part where the literal goes). */
export type CommandParts = string | readonly (string | Literal)[];

/** How long one command may take before the conversation fails. */
const REPLY_DEADLINE = 10_000;

const CRLF = Buffer.from('\r\n');

/** One connection: the greeting, then {@link RawImap.command} for each command, then {@link RawImap.close}. */
export class RawImap {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #ended: Error | undefined;
  #tag = 0;
  /** The greeting, as the first response. */
  greeting = '';

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('error', (error) => {
      this.#ended ??= error;
      this.#wake();
    });
    socket.on('close', () => {
      this.#ended ??= new Error('the server closed the connection');
      this.#wake();
    });
  }

  /**
   * Connects to `host:port` and reads the greeting; with `tls`, over implicit TLS trusting `tls.ca` (the
   * certificate must name `host`).
   */
  static async connect(port: number, host = '127.0.0.1', tls?: { ca: string }): Promise<RawImap> {
    const socket = tls
      ? connectTls({ host, port, ca: tls.ca, ...(isIP(host) ? {} : { servername: host }) })
      : connect({ host, port });
    const imap = new RawImap(socket);
    imap.greeting = await imap.#response(Date.now() + REPLY_DEADLINE);
    return imap;
  }

  /**
   * Sends `parts` with the next tag (`A001`, `A002`, …) and resolves every response up to the tagged one.
   * A literal is sent synchronising: after the server's `+`; a tagged answer instead of `+` ends the
   * command there (the rest is not sent).
   */
  async command(parts: CommandParts): Promise<RawReply> {
    const tag = `A${String(++this.#tag).padStart(3, '0')}`;
    const deadline = Date.now() + REPLY_DEADLINE;
    const list = typeof parts === 'string' ? [parts] : parts;
    const untagged: string[] = [];
    const continuations: string[] = [];
    let pending = `${tag} `;
    const finish = (tagged: string): RawReply => ({
      untagged,
      continuations,
      tagged,
      status: tagged
        .slice(tag.length + 1)
        .split(' ', 1)[0]!
        .toUpperCase(),
    });
    for (const part of list) {
      if (typeof part === 'string') {
        pending += part;
        continue;
      }
      const bytes = typeof part.literal === 'string' ? Buffer.from(part.literal, 'utf8') : part.literal;
      this.#socket.write(`${pending}{${bytes.length}}\r\n`);
      pending = '';
      for (;;) {
        const response = await this.#response(deadline);
        if (response.startsWith('+')) {
          continuations.push(response);
          break;
        }
        if (response.startsWith(`${tag} `)) return finish(response);
        untagged.push(response);
      }
      this.#socket.write(bytes);
    }
    this.#socket.write(`${pending}\r\n`);
    for (;;) {
      const response = await this.#response(deadline);
      if (response.startsWith(`${tag} `)) return finish(response);
      if (response.startsWith('+')) continuations.push(response);
      else untagged.push(response);
    }
  }

  /** Sends a line as it is (an AUTHENTICATE response, `DONE`), without a tag. */
  sendLine(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  /** Reads the next response (untagged, continuation or tagged) within the command deadline. */
  next(): Promise<string> {
    return this.#response(Date.now() + REPLY_DEADLINE);
  }

  /** Closes the connection (without LOGOUT) and waits until it is closed. */
  async close(): Promise<void> {
    if (this.#socket.closed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** One whole response: a line, and after each `{n}` at its end the n octets and the line that follows. */
  async #response(deadline: number): Promise<string> {
    let offset = 0;
    for (;;) {
      const end = this.#buffer.indexOf(CRLF, offset);
      if (end >= 0) {
        const line = this.#buffer.subarray(offset, end);
        const literal = /\{(\d+)\}$/.exec(line.toString('latin1'));
        if (!literal) {
          const response = this.#buffer.subarray(0, end).toString('latin1');
          this.#buffer = this.#buffer.subarray(end + 2);
          return response;
        }
        const after = end + 2 + Number(literal[1]);
        if (this.#buffer.length >= after) {
          offset = after;
          continue;
        }
      }
      if (this.#ended)
        throw new Error(`${this.#ended.message}; unfinished: ${this.#buffer.toString('utf8')}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`no complete response in time; so far: ${this.#buffer.toString('utf8')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A binary string (one character per octet) as the UTF-8 text it holds, or as it is when it is not UTF-8. */
export function readableText(binary: string): string {
  try {
    return strictUtf8.decode(Buffer.from(binary, 'latin1'));
  } catch {
    return binary;
  }
}
