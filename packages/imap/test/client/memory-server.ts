import type { Connector, Transport } from '@postwire/core';

/**
 * What a scripted server does with one complete command: its text with literal contents inline
 * (`A5 APPEND Box {5}\r\nhello`, no final CRLF), or a line that is not a command (`DONE`, a SASL
 * response). Returns what to send back, or nothing.
 */
export type Script = (command: string, server: MemoryImapServer) => string | Uint8Array | undefined;

/** Options of {@link MemoryImapServer}. */
export interface MemoryServerOptions {
  /**
   * The answer to a synchronising literal's announcement (the line so far): default `+ Ready`. An
   * answer that is not a `+` refuses the literal: the command ends there.
   */
  readonly continuation?: (line: string) => string;
  /** Start inside (fake) TLS, as implicit TLS would. */
  readonly secure?: boolean;
  /** The transport can (pretend to) compress: `compress()` only records when it was called. */
  readonly compressible?: boolean;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder('latin1');

/**
 * A scripted IMAP server over an in-memory connection, without sockets: every command the client sends
 * is framed (literals included, synchronising ones answered with `+`), handed to the script, and
 * recorded; each answer reaches the client as one chunk. STARTTLS is pretended: the client's
 * `startTls()` switches to a fresh connection marked secure. COMPRESS is pretended too (`compressible`): nothing is
 * compressed, the switch is only recorded.
 */
export class MemoryImapServer {
  /** Every command and line received, in order. */
  readonly commands: string[] = [];
  /** Each write the client made, as text. */
  readonly writes: string[] = [];
  readonly connector: Connector;
  /** With `compressible`: how many commands had come when the client switched to compression. */
  compressedAfter: number | undefined;
  #script: Script;
  readonly #options: MemoryServerOptions;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #buffer = '';
  #command = '';
  #literal = 0;
  #secure: boolean;
  #closed = false;

  constructor(greeting: string, script: Script, options: MemoryServerOptions = {}) {
    this.#script = script;
    this.#options = options;
    this.#secure = options.secure === true;
    let first = true;
    this.connector = async () => {
      if (!first) throw new Error('one connection only');
      first = false;
      const transport = this.#transport();
      if (greeting) this.send(greeting);
      return transport;
    };
  }

  /** The connection is (pretend) TLS. */
  get secure(): boolean {
    return this.#secure;
  }

  /** The client closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Chunks sent and not yet read by the client. */
  get unread(): number {
    return 1 - (this.#controller.desiredSize ?? 0);
  }

  /** Replaces the script (for a test that changes behaviour half-way). */
  set script(script: Script) {
    this.#script = script;
  }

  /** Sends bytes to the client now. */
  send(data: string | Uint8Array): void {
    if (this.#closed) return;
    this.#controller.enqueue(typeof data === 'string' ? encoder.encode(data) : data);
  }

  /** Ends the connection from the server's side. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.close();
  }

  #transport(): Transport {
    const transport: Transport = {
      readable: new ReadableStream<Uint8Array>(
        {
          start: (controller) => {
            this.#controller = controller;
          },
        },
        { highWaterMark: 1 },
      ),
      writable: new WritableStream<Uint8Array>({
        write: (chunk) => this.#receive(chunk),
      }),
      closed: Promise.resolve(),
      info: { secure: this.#secure },
      startTls: async () => {
        this.#secure = true;
        this.#buffer = '';
        this.#command = '';
        return this.#transport();
      },
      close: async () => {
        this.end();
      },
    };
    if (!this.#options.compressible) return transport;
    return Object.assign(transport, {
      compress: () => {
        this.compressedAfter = this.commands.length;
      },
    });
  }

  #receive(chunk: Uint8Array): void {
    const text = latin1.decode(chunk);
    this.writes.push(text);
    this.#buffer += text;
    for (;;) {
      if (this.#literal > 0) {
        const take = this.#buffer.slice(0, this.#literal);
        this.#command += take;
        this.#buffer = this.#buffer.slice(take.length);
        this.#literal -= take.length;
        if (this.#literal > 0) return;
      }
      const end = this.#buffer.indexOf('\r\n');
      if (end === -1) return;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#command += line;
      const literal = /\{(\d+)(\+?)\}$/.exec(line);
      if (literal) {
        this.#command += '\r\n';
        if (literal[2] === '') {
          const answer = this.#options.continuation?.(this.#command) ?? '+ Ready\r\n';
          this.send(answer);
          if (!answer.startsWith('+')) {
            this.commands.push(this.#command);
            this.#command = '';
            continue;
          }
        }
        this.#literal = Number(literal[1]);
        continue;
      }
      const command = this.#command;
      this.#command = '';
      this.commands.push(command);
      const answer = this.#script(command, this);
      if (answer !== undefined) this.send(answer);
    }
  }
}

/** The tag of a command (its first word). */
export function tagOf(command: string): string {
  return command.slice(0, command.indexOf(' '));
}

/** The command without its tag (`SELECT INBOX`), upper-cased verb untouched. */
export function verbOf(command: string): string {
  return command.slice(command.indexOf(' ') + 1);
}
