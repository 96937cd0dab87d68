import type { Pop3Status } from '../../src/protocol/response.js';
import type { Pop3MaildropMessage } from '../../src/server/maildrop.js';
import {
  type Pop3AuthStep,
  type Pop3ServerEvent,
  Pop3ServerSession,
  type Pop3ServerSessionOptions,
} from '../../src/server/session.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** The session's greeting with the driver's host name. */
export const GREETING = '+OK pop.test POP3 server ready\r\n';

/** A message of the test maildrop: its unique id and text. */
export interface TestMessage {
  readonly uid: string;
  readonly text: string;
}

/** Three messages: one with a stuffed dot, one with a long body, one short. */
export const MESSAGES: readonly TestMessage[] = [
  { uid: 'uid-one', text: 'Subject: one\r\n\r\n.hidden dot\r\nbody\r\n' },
  { uid: 'uid-two', text: 'Subject: two\r\nFrom: a@b.test\r\n\r\nline 1\r\nline 2\r\nline 3\r\n' },
  { uid: 'uid-three', text: 'Subject: three\r\n\r\nx\r\n' },
];

/** The sizes the listing reports. */
export const sizeOf = (message: TestMessage): number => encoder.encode(message.text).length;

/** Answers to the session's questions; each may be overridden by a test. */
export interface Answers {
  /** The outcome of a USER/PASS, APOP or AUTH event (default: `alice`/`secret` by password, `alice` for AUTH). */
  login?(
    event: Extract<Pop3ServerEvent, { type: 'password' | 'apop' | 'auth' | 'auth-response' }>,
  ): Pop3AuthStep;
  /** The maildrop listing, or a refusal (default: {@link MESSAGES}). */
  open?(username: string): Pop3Status | { messages: readonly Pop3MaildropMessage[] };
  /** A refusal of a retrieval (default: accept). */
  retrieve?(message: number): Pop3Status | undefined;
  /** A refusal of the update (default: accept). */
  update?(deleted: readonly number[]): Pop3Status | undefined;
  /** A refusal of the greeting (default: accept). */
  connect?(): Pop3Status | undefined;
}

/**
 * A test driver: feeds client flights (each as the chunks given), answers decisions from `answers`, sends
 * message text in `chunkSize` pieces, and records what the session does.
 */
export class Driver {
  readonly session: Pop3ServerSession;
  output = '';
  /** Every decision event, in order. */
  readonly decisions: Pop3ServerEvent[] = [];
  closed = false;
  /** What `update` deleted, when it ran. */
  updated: readonly number[] | undefined;

  constructor(
    options: Partial<Pop3ServerSessionOptions> = {},
    readonly answers: Answers = {},
    readonly messages: readonly TestMessage[] = MESSAGES,
    readonly chunkSize = 7,
  ) {
    this.session = new Pop3ServerSession({ hostname: 'pop.test', cleartextLogin: () => true, ...options });
    this.drain();
  }

  /** Sends one flight of client input, in the given chunks, processing between chunks. */
  send(...chunks: string[]): string {
    const before = this.output.length;
    for (const chunk of chunks) {
      this.session.receive(encoder.encode(chunk));
      this.drain();
    }
    return this.output.slice(before);
  }

  /** Logs in as alice with USER/PASS; returns what the server said. */
  login(): string {
    return this.send('USER alice\r\n', 'PASS secret\r\n');
  }

  drain(): void {
    for (let event = this.session.next(); event; event = this.session.next()) {
      switch (event.type) {
        case 'write':
          this.output += decoder.decode(event.data);
          break;
        case 'close':
          this.closed = true;
          break;
        case 'password':
        case 'apop':
        case 'auth':
        case 'auth-response':
          this.decisions.push(event);
          this.session.authStep(this.answers.login?.(event) ?? defaultLogin(event));
          break;
        case 'open':
          this.decisions.push(event);
          this.session.respond(
            this.answers.open?.(event.username) ?? {
              messages: this.messages.map((message) => ({ uid: message.uid, size: sizeOf(message) })),
            },
          );
          break;
        case 'retrieve': {
          this.decisions.push(event);
          const refusal = this.answers.retrieve?.(event.message);
          this.session.respond(refusal);
          if (refusal) break;
          const bytes = encoder.encode(this.messages[event.message - 1]!.text);
          for (let at = 0; at < bytes.length; at += this.chunkSize) {
            if (!this.session.messageData(bytes.subarray(at, at + this.chunkSize))) break;
          }
          this.session.messageEnd();
          break;
        }
        case 'update':
          this.decisions.push(event);
          this.updated = event.deleted;
          this.session.respond(this.answers.update?.(event.deleted));
          break;
        case 'connect':
          this.decisions.push(event);
          this.session.respond(this.answers.connect?.());
          break;
        case 'stls':
          this.decisions.push(event);
          this.session.respond();
          break;
      }
    }
  }
}

function defaultLogin(
  event: Extract<Pop3ServerEvent, { type: 'password' | 'apop' | 'auth' | 'auth-response' }>,
): Pop3AuthStep {
  if (event.type === 'password') {
    return event.username === 'alice' && event.password === 'secret'
      ? { type: 'success', username: 'alice' }
      : { type: 'failure', reason: 'invalid-credentials' };
  }
  return { type: 'success', username: 'alice' };
}
