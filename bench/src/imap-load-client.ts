import * as net from 'node:net';

/**
 * The IMAP client of the IMAP server benchmark (imap.ts): one connection on node:net that reads whole
 * responses, literals included, so that the workloads can check what a server answered (a broken server
 * must not look fast). Commands are pipelined: each is written at once and resolves with its own tagged
 * completion. Short literals (ENVELOPE strings) are kept in the response's text; long ones (message
 * bodies) are only counted, with their first octets kept for a check of which message they are.
 */

/** How long the greeting or one command may take before the benchmark gives up. */
const DEADLINE = 120_000;
/** Literals up to this many octets are kept in the response's text; longer ones are counted only. */
const INLINE_LITERAL = 4096;
/** Octets kept from the start of each long literal. */
const HEAD = 64;

/** One whole server response: `* …`, `+ …` or a tagged completion. */
export interface ImapResponse {
  /** The response's lines joined, each short literal's content in place; a long literal shows as its `{n}`. */
  readonly text: string;
  /** The size of each literal of the response, in order. */
  readonly literals: readonly number[];
  /** The first octets of each long literal, in order. */
  readonly heads: readonly Buffer[];
}

/** A tagged NO or BAD (or a closed connection) for a command. */
export class ImapCommandError extends Error {
  /** `NO`, `BAD`, or `closed`. */
  readonly status: string;
  constructor(status: string, message: string) {
    super(message);
    this.status = status;
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class ImapLoadClient {
  /** Called with each untagged response (`* …`), in order. */
  onUntagged: ((response: ImapResponse) => void) | undefined;
  readonly #socket: net.Socket;
  readonly #tagged = new Map<string, Waiter<string>>();
  /** Waiters for `+` continuation requests (IDLE), and for the command they belong to. */
  readonly #continuations: { tag: string; waiter: Waiter<string> }[] = [];
  #greeting: Waiter<string> | undefined;
  #rest: Buffer = Buffer.alloc(0);
  /** The response being read: its text so far, its literals. */
  #parts: string[] = [];
  #literals: number[] = [];
  #heads: Buffer[] = [];
  /** Octets of the current literal still to come, and whether it is kept in the text. */
  #literal = 0;
  #inline: Buffer[] | undefined;
  #head: Buffer[] | undefined;
  #headBytes = 0;
  #tags = 0;
  #closed: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new ImapCommandError('closed', 'the IMAP connection closed')));
  }

  /** Connects to 127.0.0.1:`port` and waits for the `* OK` greeting. */
  static async connect(port: number): Promise<ImapLoadClient> {
    const client = new ImapLoadClient(net.connect({ host: '127.0.0.1', port }));
    const greeting = await withDeadline(
      new Promise<string>((resolve, reject) => {
        client.#greeting = { resolve, reject };
      }),
      'greeting',
    );
    if (!greeting.startsWith('* OK')) throw new Error(`unexpected IMAP greeting: ${greeting}`);
    return client;
  }

  /** Sends `line` with a tag of its own, without waiting for earlier commands; resolves with its tagged OK. */
  command(line: string): Promise<string> {
    return withDeadline(this.#send(line).done, line.slice(0, 40));
  }

  /**
   * IDLE: resolves with a `done()` that sends DONE and waits for the tagged OK once the server asked for
   * more with `+`, or with `undefined` when the server answered BAD (it has no IDLE).
   */
  async idle(): Promise<{ done(): Promise<string> } | undefined> {
    const { tag, done } = this.#send('IDLE');
    const continued = new Promise<string>((resolve, reject) =>
      this.#continuations.push({ tag, waiter: { resolve, reject } }),
    );
    const first = await withDeadline(
      Promise.race([continued.then(() => 'continued' as const), done.then(() => 'completed' as const)]),
      'IDLE',
    ).catch((error: unknown) => {
      if (error instanceof ImapCommandError && error.status === 'BAD') return 'refused' as const;
      throw error;
    });
    if (first === 'refused') return undefined;
    if (first === 'completed') throw new Error('IDLE completed without a continuation request');
    return {
      done: () => {
        this.#socket.write('DONE\r\n');
        return withDeadline(done, 'DONE');
      },
    };
  }

  /** LOGOUT (its `* BYE` and tagged OK), then the end of the connection. */
  async logout(): Promise<void> {
    await this.command('LOGOUT');
    this.#socket.destroy();
  }

  /** Ends the connection without a word. */
  destroy(): void {
    this.#socket.destroy();
  }

  #send(line: string): { tag: string; done: Promise<string> } {
    const tag = `t${++this.#tags}`;
    if (this.#closed) return { tag, done: Promise.reject(this.#closed) };
    const done = new Promise<string>((resolve, reject) => this.#tagged.set(tag, { resolve, reject }));
    this.#socket.write(`${tag} ${line}\r\n`);
    return { tag, done };
  }

  #onData(chunk: Buffer): void {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let at = 0;
    while (at < data.length) {
      if (this.#literal > 0) {
        const take = Math.min(this.#literal, data.length - at);
        this.#literalBytes(data.subarray(at, at + take));
        at += take;
        this.#literal -= take;
        if (this.#literal === 0) this.#literalEnd();
        continue;
      }
      const end = data.indexOf('\r\n', at, 'latin1');
      if (end < 0) break;
      this.#line(data.toString('latin1', at, end));
      at = end + 2;
    }
    this.#rest = at < data.length ? Buffer.from(data.subarray(at)) : Buffer.alloc(0);
  }

  #line(line: string): void {
    // A line that ends in {n} (or LITERAL+'s {n+}) continues after n octets.
    if (line.endsWith('}')) {
      const open = line.lastIndexOf('{');
      const size = open >= 0 ? /^\{(\d+)\+?\}$/.exec(line.slice(open)) : null;
      if (size) {
        const octets = Number(size[1]);
        this.#literals.push(octets);
        if (octets <= INLINE_LITERAL) {
          this.#parts.push(line.slice(0, open));
          this.#inline = [];
        } else {
          this.#parts.push(line);
          this.#head = [];
          this.#headBytes = 0;
        }
        this.#literal = octets;
        if (octets === 0) this.#literalEnd();
        return;
      }
    }
    this.#parts.push(line);
    const response: ImapResponse = {
      text: this.#parts.length === 1 ? line : this.#parts.join(''),
      literals: this.#literals,
      heads: this.#heads,
    };
    this.#parts = [];
    this.#literals = [];
    this.#heads = [];
    this.#response(response);
  }

  #literalBytes(bytes: Buffer): void {
    if (this.#inline) this.#inline.push(bytes);
    else if (this.#head && this.#headBytes < HEAD) {
      const part = bytes.subarray(0, HEAD - this.#headBytes);
      this.#head.push(Buffer.from(part));
      this.#headBytes += part.length;
    }
  }

  #literalEnd(): void {
    if (this.#inline) {
      // Kept as a quoted string would read, so that a check can look for the value in the text.
      this.#parts.push(`"${Buffer.concat(this.#inline).toString('latin1')}"`);
      this.#inline = undefined;
    } else if (this.#head) {
      this.#heads.push(Buffer.concat(this.#head));
      this.#head = undefined;
    }
  }

  #response(response: ImapResponse): void {
    const { text } = response;
    if (this.#greeting) {
      const greeting = this.#greeting;
      this.#greeting = undefined;
      greeting.resolve(text);
      return;
    }
    if (text.startsWith('* ')) {
      this.onUntagged?.(response);
      return;
    }
    if (text === '+' || text.startsWith('+ ')) {
      const continuation = this.#continuations.shift();
      if (!continuation) this.#fail(new Error(`unexpected continuation request: ${text}`));
      else continuation.waiter.resolve(text);
      return;
    }
    const space = text.indexOf(' ');
    const tag = text.slice(0, space);
    const waiter = this.#tagged.get(tag);
    if (!waiter) {
      this.#fail(new Error(`a response for no command: ${text.slice(0, 200)}`));
      return;
    }
    this.#tagged.delete(tag);
    const index = this.#continuations.findIndex((c) => c.tag === tag);
    if (index >= 0) this.#continuations.splice(index, 1);
    const status = text.slice(space + 1, text.indexOf(' ', space + 1) >>> 0).toUpperCase();
    if (status === 'OK') waiter.resolve(text);
    else waiter.reject(new ImapCommandError(status, `IMAP command failed: ${text.slice(0, 300)}`));
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    this.#greeting?.reject(error);
    this.#greeting = undefined;
    for (const waiter of this.#tagged.values()) waiter.reject(error);
    this.#tagged.clear();
    for (const { waiter } of this.#continuations.splice(0)) waiter.reject(error);
    this.#socket.destroy();
  }
}

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`IMAP ${what}: no reply within ${DEADLINE} ms`)), DEADLINE);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
