import {
  AbortError,
  concatBytes,
  decodeUtf8,
  InvalidArgumentError,
  PushStream,
  TimeoutError,
} from '@postwire/core';
import { type BodyStructure, type Envelope, parseSection } from '@postwire/mime';
import type { ImapCommandBody } from '../protocol/command.js';
import { parseDateTime } from '../protocol/date-time.js';
import { type FetchItem, formatSection, type Partial } from '../protocol/fetch-item.js';
import type { ImapResponse } from '../protocol/response.js';
import type { ExtensionValue } from '../protocol/response-body.js';
import type { FetchAttribute, FetchContent } from '../protocol/response-fetch.js';
import { SequenceSet } from '../protocol/sequence-set.js';
import type { CommandHandler, ImapClientSession, LiteralSink, UntaggedResponse } from './session.js';
import type { Acquired, CallBounds } from './session-keeper.js';

/** One body section to fetch. */
export interface ImapBodyRequest {
  /**
   * The section (RFC 9051 §6.4.5): `''` for the whole message, `HEADER`, `TEXT`, `1.2`, `1.MIME`,
   * `HEADER.FIELDS (Subject From)`; with `binary`, part numbers only (`''`, `1.2`).
   */
  readonly section: string;
  /** Fetch with BINARY (RFC 3516): the content decoded from its transfer encoding by the server. */
  readonly binary?: boolean;
  /** Only these octets of it. */
  readonly partial?: Partial;
  /** Let the server set `\Seen` (BODY[] rather than BODY.PEEK[]). */
  readonly markSeen?: boolean;
}

/** What to fetch of each message; body sections come back as {@link ImapBodyPart}s. */
export interface ImapFetchQuery {
  /** UID (always fetched by a UID FETCH). */
  readonly uid?: boolean;
  /** FLAGS. */
  readonly flags?: boolean;
  /** INTERNALDATE. */
  readonly internalDate?: boolean;
  /** RFC822.SIZE. */
  readonly size?: boolean;
  /** ENVELOPE. */
  readonly envelope?: boolean;
  /** BODYSTRUCTURE. */
  readonly bodyStructure?: boolean;
  /** CONDSTORE's MODSEQ. */
  readonly modseq?: boolean;
  /** RFC 8474 EMAILID. */
  readonly emailId?: boolean;
  /** RFC 8474 THREADID. */
  readonly threadId?: boolean;
  /** Body sections: a section string, or a {@link ImapBodyRequest}. */
  readonly bodies?: readonly (string | ImapBodyRequest)[];
}

/** A body section of a fetched message: its bytes, streamed, read once. */
export interface ImapBodyPart extends AsyncIterable<Uint8Array> {
  /** The section as it was asked for (or as the server named it, when it matches no request). */
  readonly section: string;
  /** It was fetched with BINARY (RFC 3516): decoded from its transfer encoding. */
  readonly binary: boolean;
  /** The octet the content starts at, for a partial fetch. */
  readonly origin: number | undefined;
  /** The octets the server announced (0 for NIL). */
  readonly size: number;
  /** The content as a web stream; read it, iterate the part, or call {@link bytes} — one of them. */
  readonly content: ReadableStream<Uint8Array>;
  /** The whole content in memory. */
  bytes(): Promise<Uint8Array>;
  /** The whole content as UTF-8 text. */
  text(): Promise<string>;
}

/**
 * A fetched message. The attributes the server sent before the first body section are set when it is
 * yielded; those it sent after (some servers put FLAGS last) are set once {@link bodies} is exhausted.
 */
export interface ImapFetchedMessage {
  /** The sequence number. */
  readonly seq: number;
  /** The UID of the message (RFC 9051 §2.3.1.1), when fetched. */
  readonly uid: number | undefined;
  /** The message's flags, when fetched. */
  readonly flags: readonly string[] | undefined;
  /** INTERNALDATE; `undefined` also when the server's date-time was malformed. */
  readonly internalDate: Date | undefined;
  /** The message's size in octets (RFC822.SIZE), when fetched. */
  readonly size: number | undefined;
  /**
   * The ENVELOPE, when fetched; `undefined` also when the server's could not be read, its value then in
   * {@link extensions} as sent.
   */
  readonly envelope: Envelope | undefined;
  /**
   * The BODYSTRUCTURE, when fetched; `undefined` also when the server's could not be read, its value then
   * in {@link extensions} as sent.
   */
  readonly bodyStructure: BodyStructure | undefined;
  /**
   * The message's mod-sequence (RFC 7162), when fetched; `undefined` also when it is above 2⁵³−1, its value
   * then in {@link extensions} as sent.
   */
  readonly modseq: number | undefined;
  /** The message's EMAILID (RFC 8474), when fetched. */
  readonly emailId: string | undefined;
  /** The message's THREADID (RFC 8474; `null` for NIL), when fetched. */
  readonly threadId: string | null | undefined;
  /** Items of extensions (Gmail's `X-GM-LABELS`, `X-GM-MSGID` …), by upper-case name. */
  readonly extensions: ReadonlyMap<string, ExtensionValue>;
  /**
   * The body sections in the order the server sends them. Streaming (the default), a part's content must
   * be read before the next part is asked for, and a message's before the next message: what is left
   * unread then is dropped, and reading it later fails with an `AbortError`. With `collect`, every part is
   * in memory and may be read at any time.
   */
  readonly bodies: AsyncIterable<ImapBodyPart>;
  /**
   * The part of `section` (default: the first body asked for), moving through {@link bodies}: streaming,
   * the parts before it are dropped. `undefined` when the server sent no such part.
   */
  body(section?: string): Promise<ImapBodyPart | undefined>;
}

/** Options of a fetch. */
export interface ImapFetchOptions {
  /** The range is of UIDs (UID FETCH). */
  readonly uid?: boolean;
  /** Only messages whose mod-sequence is higher (CONDSTORE, RFC 7162 §3.1.4). */
  readonly changedSince?: number;
  /** With `uid` and `changedSince` under QRESYNC: also report expunged UIDs, in {@link ImapFetch.vanished}. */
  readonly vanished?: boolean;
  /** Read each message whole before yielding it, body sections in memory. */
  readonly collect?: boolean;
  /** Gives up the fetch: the iteration rejects with an `AbortError`. */
  readonly signal?: AbortSignal;
  /** Milliseconds for the whole fetch. */
  readonly timeout?: number;
}

/**
 * The messages of a FETCH as they arrive. The command goes out when iteration starts. Leaving the loop
 * (`break`, `return`, a throw) ends the fetch: the rest of its responses are read and dropped, and the
 * client stays usable.
 */
export interface ImapFetch extends AsyncIterable<ImapFetchedMessage> {
  /** UIDs expunged since `changedSince` (the `vanished` option), once iteration has ended. */
  readonly vanished: SequenceSet | undefined;
}

/** A FETCH or UID FETCH command. */
export type FetchCommand = Extract<ImapCommandBody, { readonly name: 'FETCH' }>;

/** The items a change to a message is reported with, unasked. */
const CHANGE_ITEMS = new Set(['UID', 'FLAGS', 'MODSEQ']);
/** The reader is asked to wait once this many messages wait for the consumer. */
const QUEUE_HIGH = 64;
/** Messages buffered before a FETCH body literal of a collected message is held. */
const STREAM_HIGH_WATER = 256 * 1024;

/** A requested body section, and the key its response item is matched by. */
interface BodyRequest {
  readonly label: string;
  readonly key: string;
}

/** The FETCH items of a query, and its body sections in order. */
export function fetchItems(
  query: ImapFetchQuery,
  uid: boolean,
): { items: FetchItem[]; bodies: BodyRequest[] } {
  const items: FetchItem[] = [];
  const simple: [keyof ImapFetchQuery, FetchItem['item']][] = [
    ['uid', 'UID'],
    ['flags', 'FLAGS'],
    ['internalDate', 'INTERNALDATE'],
    ['size', 'RFC822.SIZE'],
    ['envelope', 'ENVELOPE'],
    ['bodyStructure', 'BODYSTRUCTURE'],
    ['modseq', 'MODSEQ'],
    ['emailId', 'EMAILID'],
    ['threadId', 'THREADID'],
  ];
  for (const [option, item] of simple)
    if (query[option] || (option === 'uid' && uid)) items.push({ item } as FetchItem);
  const bodies: BodyRequest[] = [];
  for (const body of query.bodies ?? []) {
    const request = typeof body === 'string' ? { section: body } : body;
    const partial = request.partial && checkPartial(request.partial);
    const peek = request.markSeen !== true;
    if (request.binary) {
      if (!/^(?:[1-9]\d{0,9}(?:\.[1-9]\d{0,9})*)?$/.test(request.section))
        throw new InvalidArgumentError(
          `a BINARY section is part numbers: ${JSON.stringify(request.section)}`,
        );
      const part = request.section === '' ? [] : request.section.split('.').map(Number);
      items.push({ item: 'BINARY[]', part, peek, ...(partial && { partial }) });
      bodies.push({ label: request.section, key: binaryKey(part, partial?.offset) });
    } else {
      const section = parseSection(request.section);
      items.push({ item: 'BODY[]', section, peek, ...(partial && { partial }) });
      bodies.push({ label: request.section, key: bodyKey(formatSection(section), partial?.offset) });
    }
  }
  if (items.length === 0) throw new InvalidArgumentError('the fetch query asks for nothing');
  return { items, bodies };
}

function checkPartial(partial: Partial): Partial {
  if (
    !Number.isSafeInteger(partial.offset) ||
    partial.offset < 0 ||
    !Number.isSafeInteger(partial.count) ||
    partial.count < 1
  )
    throw new InvalidArgumentError('a partial fetch needs an offset ≥ 0 and a count ≥ 1');
  return partial;
}

function bodyKey(section: string, origin: number | undefined): string {
  return `BODY[${section.toUpperCase()}]${origin === undefined ? '' : `<${origin}>`}`;
}

function binaryKey(part: readonly number[], origin: number | undefined): string {
  return `BINARY[${part.join('.')}]${origin === undefined ? '' : `<${origin}>`}`;
}

/** A body item of a FETCH response, with the key it matches a request by. */
function bodyItem(
  attribute: FetchAttribute,
): { key: string; section: string; binary: boolean; origin?: number; content: FetchContent } | undefined {
  switch (attribute.item) {
    case 'BODY[]': {
      let section: string;
      try {
        section = formatSection(attribute.section);
      } catch {
        // A server that echoed header names no request could hold: named without them.
        section = [...attribute.section.part, attribute.section.text].join('.');
      }
      return {
        key: bodyKey(section, attribute.origin),
        section,
        binary: false,
        ...(attribute.origin !== undefined && { origin: attribute.origin }),
        content: attribute.content,
      };
    }
    case 'BINARY[]': {
      const section = attribute.part.join('.');
      return {
        key: binaryKey(attribute.part, attribute.origin),
        section,
        binary: true,
        ...(attribute.origin !== undefined && { origin: attribute.origin }),
        content: attribute.content,
      };
    }
    default:
      return undefined;
  }
}

/** A body section's content, streamed from the network as it arrives. */
class BodyPart implements ImapBodyPart {
  readonly section: string;
  readonly binary: boolean;
  readonly origin: number | undefined;
  readonly size: number;
  readonly key: string;
  readonly #stream: PushStream;

  /** `section` is the label: the request's, when the item matched one. */
  constructor(
    item: { key: string; section: string; binary: boolean; origin?: number },
    size: number,
    highWaterMark: number,
  ) {
    this.key = item.key;
    this.section = item.section;
    this.binary = item.binary;
    this.origin = item.origin;
    this.size = size;
    this.#stream = new PushStream({ highWaterMark });
  }

  get content(): ReadableStream<Uint8Array> {
    return this.#stream.stream;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#stream[Symbol.asyncIterator]();
  }

  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.#stream) chunks.push(chunk);
    return concatBytes(chunks);
  }

  async text(): Promise<string> {
    return decodeUtf8(await this.bytes());
  }

  /** The sink the session feeds. */
  sink(): LiteralSink {
    return { data: (chunk) => this.#stream.push(chunk), end: () => this.#stream.end() };
  }

  /** Content that came inline (a quoted string, NIL). */
  fill(data: Uint8Array | null): void {
    if (data && data.length > 0) this.#stream.push(data);
    this.#stream.end();
  }

  discard(): void {
    this.#stream.discard();
  }

  fail(error: Error): void {
    this.#stream.fail(error);
  }
}

/** A message being read: its attributes, and its parts as they start. */
class FetchedMessage implements ImapFetchedMessage {
  readonly seq: number;
  uid: number | undefined;
  flags: readonly string[] | undefined;
  internalDate: Date | undefined;
  size: number | undefined;
  envelope: Envelope | undefined;
  bodyStructure: BodyStructure | undefined;
  modseq: number | undefined;
  emailId: string | undefined;
  threadId: string | null | undefined;
  readonly extensions = new Map<string, ExtensionValue>();
  readonly #requests: readonly BodyRequest[];
  readonly #collect: boolean;
  readonly #parts: BodyPart[] = [];
  /** Streaming: the next part to hand out. */
  #cursor = 0;
  #ended = false;
  /** Why the response will not complete, when it will not. */
  #failure: Error | undefined;
  #released = false;
  #wake: (() => void) | undefined;

  constructor(seq: number, requests: readonly BodyRequest[], collect: boolean) {
    this.seq = seq;
    this.#requests = requests;
    this.#collect = collect;
  }

  get bodies(): AsyncIterable<ImapBodyPart> {
    let index = 0;
    return {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<ImapBodyPart>> => {
          const part = this.#collect ? await this.#at(index++) : await this.#next();
          return part ? { done: false, value: part } : { done: true, value: undefined };
        },
      }),
    };
  }

  async body(section?: string): Promise<ImapBodyPart | undefined> {
    const key = section === undefined ? this.#requests[0]?.key : this.#keyOf(section);
    if (this.#collect) {
      for (let index = 0; ; index++) {
        const part = await this.#at(index);
        if (!part || part.key === key) return part;
      }
    }
    for (let part = await this.#next(); part; part = await this.#next()) if (part.key === key) return part;
    return undefined;
  }

  /**
   * The request a response item answers: same key, or the same without the `<origin>` (RFC 9051's
   * grammar gives BINARY[] answers none, while its text and Dovecot give one).
   */
  #request(key: string): BodyRequest | undefined {
    const bare = key.replace(/<\d+>$/, '');
    return (
      this.#requests.find((request) => request.key === key) ??
      this.#requests.find((request) => request.key.replace(/<\d+>$/, '') === bare)
    );
  }

  #keyOf(section: string): string | undefined {
    return this.#requests.find((request) => request.label === section)?.key ?? bodyKey(section, undefined);
  }

  /** Streaming: the next part, the one before it dropped if not read. */
  async #next(): Promise<BodyPart | undefined> {
    this.#parts[this.#cursor - 1]?.discard();
    const part = await this.#at(this.#cursor);
    if (part) this.#cursor++;
    return part;
  }

  async #at(index: number): Promise<BodyPart | undefined> {
    while (index >= this.#parts.length && !this.#ended) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    if (index >= this.#parts.length && this.#failure) throw this.#failure;
    return this.#parts[index];
  }

  /**
   * Takes the attributes read so far (each read repeats the earlier ones); returns the part whose
   * content is being streamed now, if the last body item is one.
   */
  update(attributes: readonly FetchAttribute[]): BodyPart | undefined {
    let bodies = 0;
    let streamed: BodyPart | undefined;
    for (const attribute of attributes) {
      const item = bodyItem(attribute);
      if (!item) {
        this.#attribute(attribute);
        continue;
      }
      if (bodies++ < this.#parts.length) continue;
      const content = item.content;
      const size = content === null ? 0 : content instanceof Uint8Array ? content.length : content.size;
      const request = this.#request(item.key);
      const part = new BodyPart(
        { ...item, key: request?.key ?? item.key, section: request?.label ?? item.section },
        size,
        this.#collect ? Number.POSITIVE_INFINITY : STREAM_HIGH_WATER,
      );
      this.#parts.push(part);
      if (this.#released) part.discard();
      if (content === null || content instanceof Uint8Array) part.fill(content);
      else if ('kind' in content) streamed = part;
      else part.fill(null);
      this.#notify();
    }
    return streamed;
  }

  /** The response is complete. */
  finish(attributes: readonly FetchAttribute[]): void {
    this.update(attributes);
    this.#ended = true;
    this.#notify();
  }

  /** The response will not complete: unfinished parts, and the waits for parts to come, fail with `error`. */
  fail(error: Error): void {
    this.#failure ??= error;
    for (const part of this.#parts) part.fail(error);
    this.#ended = true;
    this.#notify();
  }

  /**
   * The consumer moved on (streaming), or left the fetch (`all`): what it did not read is dropped, and so
   * are parts still to come.
   */
  release(all = false): void {
    if (this.#collect && !all) return;
    this.#released = true;
    for (const part of this.#parts) part.discard();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #attribute(attribute: FetchAttribute): void {
    switch (attribute.item) {
      case 'UID':
        this.uid = attribute.uid;
        return;
      case 'FLAGS':
        this.flags = attribute.flags;
        return;
      case 'INTERNALDATE':
        this.internalDate = parseDateTime(attribute.date.trim());
        return;
      case 'RFC822.SIZE':
        this.size = attribute.size;
        return;
      case 'ENVELOPE':
        this.envelope = attribute.envelope;
        return;
      case 'BODY':
      case 'BODYSTRUCTURE':
        this.bodyStructure = attribute.structure;
        return;
      case 'MODSEQ':
        this.modseq = attribute.modSeq;
        return;
      case 'EMAILID':
        this.emailId = attribute.id;
        return;
      case 'THREADID':
        this.threadId = attribute.id;
        return;
      case 'OTHER':
        this.extensions.set(attribute.name, attribute.value);
        return;
    }
  }
}

/**
 * A FETCH command and its messages: the command's handler on one side (responses and body literals
 * arrive, in the reader's task), an async iterator on the other. Messages wait in a queue; when it is
 * long, or a body's reader is behind, the reader is asked to wait — unless a later command is pending,
 * whose answer lies past this fetch's, so that awaiting it inside the loop never deadlocks.
 */
export class FetchRun implements ImapFetch {
  readonly #acquire: (bounds: CallBounds) => Promise<Acquired>;
  #session: ImapClientSession | undefined;
  readonly #command: FetchCommand;
  readonly #bodies: readonly BodyRequest[];
  readonly #options: ImapFetchOptions;
  readonly #queue: FetchedMessage[] = [];
  #open: FetchedMessage | undefined;
  #current: FetchedMessage | undefined;
  #started = false;
  #done = false;
  #error: Error | undefined;
  #dropping = false;
  #wake: (() => void) | undefined;
  #space: (() => void) | undefined;
  readonly #vanished: SequenceSet[] = [];
  /** Something beyond UID, FLAGS and MODSEQ was asked for. */
  readonly #static: boolean;

  /** `acquire` gives the session to fetch on when iteration starts (during a reconnection, the new one). */
  constructor(
    acquire: (bounds: CallBounds) => Promise<Acquired>,
    command: FetchCommand,
    bodies: readonly BodyRequest[],
    options: ImapFetchOptions,
  ) {
    this.#acquire = acquire;
    this.#command = command;
    this.#bodies = bodies;
    this.#options = options;
    this.#static = command.items.some((item) => !CHANGE_ITEMS.has(item.item));
  }

  get vanished(): SequenceSet | undefined {
    if (this.#vanished.length === 0) return undefined;
    return SequenceSet.of(this.#vanished.flatMap((set) => set.ranges));
  }

  [Symbol.asyncIterator](): AsyncIterator<ImapFetchedMessage> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.#stop();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<ImapFetchedMessage>> {
    this.#start();
    this.#current?.release();
    this.#current = undefined;
    for (;;) {
      const message = this.#queue.shift();
      if (message) {
        this.#current = message;
        this.#makeSpace();
        return { done: false, value: message };
      }
      const error = this.#error;
      if (error) {
        this.#error = undefined;
        this.#stop();
        throw error;
      }
      if (this.#done) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    const { signal, timeout } = this.#options;
    this.#acquire({ ...(signal && { signal }), ...(timeout !== undefined && { timeout }) })
      .then(({ session, call }) => {
        this.#session = session;
        return session.run({ command: this.#command, handler: this.#handler(), ...call });
      })
      .then(
        () => {
          this.#done = true;
        },
        (error: Error) => {
          this.#error = error;
          // The caller gave up: the message still arriving will not complete for it, and what is queued
          // is not wanted either.
          if (error instanceof AbortError || error instanceof TimeoutError) {
            this.#open?.fail(error);
            this.#stop(false);
          }
        },
      )
      .finally(() => this.#notify());
  }

  /** Ends the fetch for the consumer: queued messages are dropped, later responses too. */
  #stop(done = true): void {
    this.#dropping = true;
    if (done) this.#done = true;
    // The message in hand stays readable when collected; streaming, its unread rest goes.
    this.#current?.release();
    this.#current = undefined;
    for (const message of this.#queue.splice(0)) message.release(true);
    this.#open?.release(true);
    this.#makeSpace();
  }

  #handler(): CommandHandler {
    const uid = this.#command.uid;
    return {
      untagged: (response) => this.#untagged(response, uid),
      literal: (_start, partial) => this.#literal(partial),
      failed: (error) => {
        this.#open?.fail(error);
        this.#open = undefined;
      },
    };
  }

  #untagged(response: UntaggedResponse, uid: boolean): boolean {
    if (response.type === 'VANISHED' && response.earlier) {
      this.#vanished.push(response.uids);
      return true;
    }
    if (response.type !== 'FETCH') return false;
    const open = this.#open;
    if (open) {
      this.#open = undefined;
      open.finish(response.attributes);
      if (this.#options.collect) this.#enqueue(open);
      return true;
    }
    if (!this.#answers(response.attributes, uid)) return false;
    const message = new FetchedMessage(response.number, this.#bodies, this.#options.collect === true);
    message.finish(response.attributes);
    this.#enqueue(message);
    return true;
  }

  /**
   * Whether a FETCH response answers this fetch rather than reporting a change (another session's STORE
   * arrives as FLAGS, with UID and MODSEQ under UID FETCH and CONDSTORE): it carries an item asked for
   * beyond those, or, when nothing else was asked for, the UID under UID FETCH (RFC 9051 §6.4.9).
   */
  #answers(attributes: readonly FetchAttribute[], uid: boolean): boolean {
    if (this.#static)
      return attributes.some(
        // A MODSEQ beyond what a number holds comes as an extension item, still a change item.
        (attribute) => !CHANGE_ITEMS.has(attribute.item === 'OTHER' ? attribute.name : attribute.item),
      );
    return !uid || attributes.some((attribute) => attribute.item === 'UID');
  }

  #literal(partial: ImapResponse | undefined): LiteralSink | undefined {
    if (partial?.type !== 'FETCH') return undefined;
    let message = this.#open;
    if (!message) {
      message = new FetchedMessage(partial.number, this.#bodies, this.#options.collect === true);
      this.#open = message;
      if (!this.#options.collect) this.#enqueue(message);
    }
    return message.update(partial.attributes)?.sink();
  }

  #enqueue(message: FetchedMessage): void {
    if (this.#dropping) {
      message.release(true);
      return;
    }
    this.#queue.push(message);
    this.#notify();
    if (this.#queue.length >= QUEUE_HIGH)
      this.#session?.pause(
        new Promise((resolve) => {
          this.#space = resolve;
        }),
      );
  }

  #makeSpace(): void {
    if (this.#queue.length >= QUEUE_HIGH / 2) return;
    const space = this.#space;
    this.#space = undefined;
    space?.();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
