import { decodeLatin1 } from './bytes.js';

/** `in`: received from the peer. `out`: sent to the peer. */
export type TraceDirection = 'in' | 'out';

/** One protocol line as seen on the wire, with credentials already replaced by {@link REDACTED}. */
export interface TraceEvent {
  /** Whether the line was received or sent. */
  readonly direction: TraceDirection;
  /** The line without its line ending. */
  readonly line: string;
}

/** Receives every protocol line; set it in a client's or server's options to debug a session. */
export type TraceHook = (event: TraceEvent) => void;

/** Which side of the conversation this tracer sits on; credentials travel from client to server. */
export type TraceRole = 'client' | 'server';

/** What replaces a secret in a trace line. */
export const REDACTED = '[redacted]';

/**
 * A rule that rewrites a client-to-server line when it carries a secret. Returns the redacted line,
 * or `undefined` when the rule does not apply.
 */
export type RedactionRule = (line: string) => string | undefined;

/**
 * The built-in rules: SMTP and POP3 `AUTH mech initial-response`, IMAP `tag AUTHENTICATE mech ir`,
 * IMAP `tag LOGIN user pass`, POP3 `PASS secret` and `APOP user digest`.
 */
export const defaultRedactionRules: readonly RedactionRule[] = [
  (line) => {
    const match = /^(AUTH\s+\S+)\s+\S/i.exec(line);
    return match ? `${match[1]} ${REDACTED}` : undefined;
  },
  (line) => {
    const match = /^(\S+\s+(?:UID\s+)?AUTHENTICATE\s+\S+)\s+\S/i.exec(line);
    return match ? `${match[1]} ${REDACTED}` : undefined;
  },
  (line) => {
    const match = /^(\S+\s+LOGIN)\s/i.exec(line);
    return match ? `${match[1]} ${REDACTED}` : undefined;
  },
  (line) => (/^PASS(\s|$)/i.test(line) ? `PASS ${REDACTED}` : undefined),
  (line) => {
    const match = /^(APOP\s+\S+)\s/i.exec(line);
    return match ? `${match[1]} ${REDACTED}` : undefined;
  },
];

/** A server line that asks the client for more data: SMTP `334`, IMAP and POP3 `+` continuations. */
const CONTINUATION = /^(?:334(?:[ -]|$)|\+(?: |$))/;

/**
 * Feeds protocol lines to a {@link TraceHook}, redacting credentials itself so that no protocol
 * implementation has to remember to. Lines that carry credentials are recognised by the rules, and
 * the client line that answers a server continuation (a SASL response, or a literal's content) is
 * always redacted.
 */
export class Tracer {
  readonly #hook: TraceHook | undefined;
  readonly #role: TraceRole;
  readonly #rules: readonly RedactionRule[];
  #redactNextClientLine = false;

  constructor(
    hook: TraceHook | undefined,
    role: TraceRole,
    rules: readonly RedactionRule[] = defaultRedactionRules,
  ) {
    this.#hook = hook;
    this.#role = role;
    this.#rules = rules;
  }

  /** True when a hook is set; callers can skip building trace lines otherwise. */
  get enabled(): boolean {
    return this.#hook !== undefined;
  }

  /** Traces a line received from the peer. */
  received(line: string | Uint8Array): void {
    this.#emit('in', line);
  }

  /** Traces a line sent to the peer. */
  sent(line: string | Uint8Array): void {
    this.#emit('out', line);
  }

  /** Marks the next client-to-server line as secret, whatever it looks like. */
  redactNextClientLine(): void {
    this.#redactNextClientLine = true;
  }

  #emit(direction: TraceDirection, raw: string | Uint8Array): void {
    if (!this.#hook) return;
    let line = stripLineEnding(typeof raw === 'string' ? raw : decodeLatin1(raw));
    const fromClient = (direction === 'out') === (this.#role === 'client');
    if (fromClient) {
      line = this.#redact(line);
    } else if (CONTINUATION.test(line)) {
      this.#redactNextClientLine = true;
    }
    this.#hook({ direction, line });
  }

  #redact(line: string): string {
    if (this.#redactNextClientLine) {
      this.#redactNextClientLine = false;
      return line === '*' ? line : REDACTED;
    }
    for (const rule of this.#rules) {
      const redacted = rule(line);
      if (redacted !== undefined) return redacted;
    }
    return line;
  }
}

function stripLineEnding(line: string): string {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === 0x0a) end--;
  if (end > 0 && line.charCodeAt(end - 1) === 0x0d) end--;
  return end === line.length ? line : line.slice(0, end);
}
