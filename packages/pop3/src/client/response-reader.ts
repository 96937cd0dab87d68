import { decodeUtf8, LimitExceededError, LineDecoder, ProtocolError } from '@postwire/core';
import { isPop3Continuation, type Pop3Status, parsePop3Status } from '../protocol/response.js';

/**
 * How the response to one command is framed (RFC 1939 §3): a status line alone (`single`); a status
 * line that, when `+OK`, is followed by a dot-stuffed listing read as lines (`lines`: CAPA, LIST, UIDL)
 * or by a dot-stuffed message streamed as bytes (`block`: RETR, TOP); or, during AUTH, a status line or a
 * `+` continuation (`auth`, RFC 5034).
 */
export type Pop3ResponseShape = 'single' | 'lines' | 'block' | 'auth';

/** What {@link Pop3ResponseReader.next} returns, in the order the server sent it. */
export type Pop3ResponseEvent =
  /** The status line of the oldest awaited response; `multiline` when a listing or a message follows. */
  | {
      readonly type: 'status';
      readonly line: string;
      readonly status: Pop3Status;
      readonly multiline: boolean;
    }
  /** A SASL challenge (the base64 text after `+ `), answering an `auth` response. */
  | { readonly type: 'continuation'; readonly line: string; readonly challenge: string }
  /** One line of a listing, dot-unstuffed. */
  | { readonly type: 'line'; readonly line: string }
  /** A piece of a message, dot-unstuffed, line endings as sent. */
  | { readonly type: 'bytes'; readonly data: Uint8Array }
  /** The `.` that ends a listing or a message. */
  | { readonly type: 'end' };

/** Options of {@link Pop3ResponseReader}. */
export interface Pop3ResponseReaderOptions {
  /** The longest status or listing line, in bytes (default 8,192; RFC 2449 allows 512). */
  readonly maxLineLength?: number;
  /** The most lines one listing may have (default 1,000,000). */
  readonly maxListingLines?: number;
}

/**
 * The client's sans-IO reader of POP3 responses. The client announces each response it waits for, in
 * the order it sent the commands ({@link expect}); bytes go in with {@link push} in any chunking, and
 * {@link next} returns events until it needs more bytes. Anything the server sends when no response is
 * awaited is an injection (catalogue cases 7 and 8) and fails the reader, as does a line that is not a
 * status line where one is due.
 */
export class Pop3ResponseReader {
  readonly #decoder: LineDecoder;
  readonly #maxListingLines: number;
  readonly #expected: Pop3ResponseShape[] = [];
  #head = 0;
  /** Inside the multi-line part of the oldest response. */
  #inside: 'lines' | 'block' | undefined;
  #listingLines = 0;

  constructor(options: Pop3ResponseReaderOptions = {}) {
    this.#decoder = new LineDecoder({ mode: 'lenient', maxLineLength: options.maxLineLength ?? 8192 });
    this.#maxListingLines = options.maxListingLines ?? 1_000_000;
  }

  /** Announces the response to one more command sent (or a SASL response line). */
  expect(shape: Pop3ResponseShape): void {
    this.#expected.push(shape);
  }

  /** Responses awaited, the one being read included. */
  get awaited(): number {
    return this.#expected.length - this.#head;
  }

  /** Bytes received and not yet returned in an event. */
  get buffered(): number {
    return this.#decoder.buffered;
  }

  /** Adds received bytes (kept by reference). */
  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  /** Forgets every byte received (after STLS, nothing read before the handshake may be used). */
  reset(): void {
    this.#decoder.reset();
  }

  /**
   * The next event, or `undefined` when more bytes are needed.
   * @throws ProtocolError for an unsolicited or malformed response; LimitExceededError for a listing
   * longer than `maxListingLines`.
   */
  next(): Pop3ResponseEvent | undefined {
    const event = this.#decoder.next();
    if (!event) return undefined;
    switch (event.type) {
      case 'bytes':
        return { type: 'bytes', data: event.data };
      case 'block-end':
        return this.#end();
      case 'error':
        throw new ProtocolError(`malformed response line: ${event.error.message}`);
    }
    const line = decodeUtf8(event.line);
    if (this.#inside === 'lines') {
      if (line === '.') return this.#end();
      if (++this.#listingLines > this.#maxListingLines) {
        throw new LimitExceededError('maxListingLines', this.#maxListingLines);
      }
      return { type: 'line', line: line.startsWith('.') ? line.slice(1) : line };
    }
    const shape = this.#expected[this.#head];
    if (shape === undefined) {
      throw new ProtocolError(
        `the server sent a response nobody asked for: ${JSON.stringify(line.slice(0, 64))}`,
      );
    }
    if (shape === 'auth' && isPop3Continuation(line)) {
      this.#done();
      return { type: 'continuation', line, challenge: line.slice(2) };
    }
    const status = parsePop3Status(line);
    const multiline = status.ok && (shape === 'lines' || shape === 'block');
    if (!multiline) {
      this.#done();
    } else if (shape === 'block') {
      this.#inside = 'block';
      this.#decoder.readDotBlock({ bareLineEndings: 'accept' });
    } else {
      this.#inside = 'lines';
      this.#listingLines = 0;
    }
    return { type: 'status', line, status, multiline };
  }

  #end(): Pop3ResponseEvent {
    this.#inside = undefined;
    this.#done();
    return { type: 'end' };
  }

  /** The oldest awaited response is complete. */
  #done(): void {
    this.#head++;
    if (this.#head === this.#expected.length) {
      this.#expected.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#expected.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
