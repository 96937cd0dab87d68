import * as net from 'node:net';

/** How long the greeting or one command may take before the benchmark gives up. */
const DEADLINE = 120_000;

interface Pending {
  resolve(line: string): void;
  reject(error: Error): void;
}

/**
 * The smallest IMAP client the store benchmark needs to drive Dovecot: one connection on node:net,
 * commands pipelined (each written at once, each resolving with its own tagged completion), and
 * literals in server responses skipped. A NO or BAD rejects the command's promise.
 */
export class ImapConnection {
  /** The untagged responses received so far (the caller may empty it), for checking what a command did. */
  readonly untagged: string[] = [];
  readonly #socket: net.Socket;
  readonly #pending = new Map<string, Pending>();
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes of a server literal still to skip. */
  #literal = 0;
  #tags = 0;
  #greeted: Pending | undefined;
  #closed: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the IMAP connection closed')));
  }

  /** Connects to 127.0.0.1:`port` and waits for the `* OK` greeting. */
  static async connect(port: number): Promise<ImapConnection> {
    const connection = new ImapConnection(net.connect({ host: '127.0.0.1', port }));
    const greeting = await withDeadline(
      new Promise<string>((resolve, reject) => {
        connection.#greeted = { resolve, reject };
      }),
      'greeting',
    );
    if (!greeting.startsWith('* OK')) throw new Error(`unexpected IMAP greeting: ${greeting}`);
    return connection;
  }

  /**
   * Sends one command now, without waiting for earlier ones: `parts` are written as they are after the
   * tag (the caller frames any literal, e.g. as LITERAL+ `{n+}` CRLF bytes), then CRLF. Resolves with the
   * tagged OK line.
   */
  send(...parts: readonly (string | Uint8Array)[]): Promise<string> {
    if (this.#closed) return Promise.reject(this.#closed);
    const tag = `b${++this.#tags}`;
    const done = new Promise<string>((resolve, reject) => this.#pending.set(tag, { resolve, reject }));
    this.#socket.write(`${tag} `);
    for (const part of parts) this.#socket.write(part);
    this.#socket.write('\r\n');
    return withDeadline(done, `${tag} ${typeof parts[0] === 'string' ? parts[0].slice(0, 40) : ''}`);
  }

  /** LOGOUT, then closes the socket. */
  async close(): Promise<void> {
    await this.send('LOGOUT').catch(() => {});
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length > 0 ? Buffer.concat([this.#buffer, chunk]) : chunk;
    for (;;) {
      if (this.#literal > 0) {
        const skip = Math.min(this.#literal, this.#buffer.length);
        this.#literal -= skip;
        this.#buffer = this.#buffer.subarray(skip);
        if (this.#literal > 0) return;
      }
      const end = this.#buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = this.#buffer.subarray(0, end).toString('latin1');
      this.#buffer = this.#buffer.subarray(end + 2);
      const literal = /\{(\d+)\}$/.exec(line);
      if (literal) this.#literal = Number(literal[1]);
      this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    if (this.#greeted) {
      const greeted = this.#greeted;
      this.#greeted = undefined;
      greeted.resolve(line);
      return;
    }
    if (line.startsWith('* ')) {
      this.untagged.push(line);
      return;
    }
    const space = line.indexOf(' ');
    const pending = this.#pending.get(line.slice(0, space));
    if (!pending) return;
    this.#pending.delete(line.slice(0, space));
    if (line.startsWith('OK ', space + 1)) pending.resolve(line);
    else pending.reject(new Error(`IMAP command failed: ${line}`));
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    this.#greeted?.reject(error);
    this.#greeted = undefined;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`IMAP ${what}: no reply within ${DEADLINE} ms`)), DEADLINE);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
