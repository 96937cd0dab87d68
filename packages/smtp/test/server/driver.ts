import type { SmtpReply } from '../../src/protocol/reply.js';
import {
  type SmtpAuthStep,
  type SmtpServerEvent,
  SmtpServerSession,
  type SmtpServerSessionOptions,
} from '../../src/server/session.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** The session's greeting with the driver's host name. */
export const GREETING = '220 mx.test ESMTP Postwire\r\n';

/** Answers to decisions, by event type: a reply (or replies) to refuse, nothing to accept. */
export type Answers = Partial<
  Record<SmtpServerEvent['type'], (event: SmtpServerEvent) => SmtpReply | SmtpReply[] | undefined>
>;

/** The SASL side of a test: the outcome of each `auth` or `auth-response` event. */
export type Authenticate = (
  event: Extract<SmtpServerEvent, { type: 'auth' | 'auth-response' }>,
) => SmtpAuthStep;

/**
 * A test driver: feeds client flights (each an array of chunks), answers decisions from `answers`, and
 * records what the session does.
 */
export class Driver {
  readonly session: SmtpServerSession;
  output = '';
  readonly messages: string[] = [];
  readonly aborts: string[] = [];
  /** Every event other than writes, message bytes and close, in order. */
  readonly decisions: SmtpServerEvent[] = [];
  closed = false;
  startTls = 0;
  #message = '';

  constructor(
    options: Partial<SmtpServerSessionOptions> = {},
    readonly answers: Answers = {},
    readonly authenticate?: Authenticate,
  ) {
    this.session = new SmtpServerSession({ hostname: 'mx.test', receivedHeader: false, ...options });
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

  drain(): void {
    for (let event = this.session.next(); event; event = this.session.next()) {
      switch (event.type) {
        case 'write':
          this.output += decoder.decode(event.data);
          break;
        case 'close':
          this.closed = true;
          break;
        case 'message-data':
          this.#message += decoder.decode(event.data);
          break;
        case 'message-abort':
          this.aborts.push(event.reason);
          this.#message = '';
          break;
        case 'auth':
        case 'auth-response':
          this.decisions.push(event);
          if (!this.authenticate) throw new Error('this driver has no SASL side');
          this.session.authStep(this.authenticate(event));
          break;
        default: {
          this.decisions.push(event);
          if (event.type === 'message-end') {
            this.messages.push(this.#message);
            this.#message = '';
          }
          if (event.type === 'starttls') this.startTls++;
          this.session.respond(this.answers[event.type]?.(event));
        }
      }
    }
  }
}
