import { concatBytes } from '@postwire/core';
import {
  createSaslServer,
  type SaslServer,
  type SaslServerExchange,
  type SaslServerOutcome,
} from '@postwire/sasl';
import { createMemoryStore, type MailStore } from '@postwire/store';
import {
  type ImapAuthStep,
  ImapRecentClaims,
  ImapServerSession,
  type ImapServerSessionOptions,
  ImapStoreBridge,
} from '../../src/index.js';

/** alice's password. */
export const PASSWORD = 'secret';

/** A SASL server that knows alice (PLAIN, LOGIN, CRAM-MD5, SCRAM), cleartext allowed unless told. */
export function testSasl(allowCleartext = true): SaslServer {
  return createSaslServer({
    verifiers: { lookupPassword: (user: string) => (user === 'alice' ? PASSWORD : undefined) },
    allowCleartext,
  });
}

function step(outcome: SaslServerOutcome): ImapAuthStep {
  return outcome.type === 'success' ? { type: 'success', username: outcome.identity.username } : outcome;
}

/**
 * Drives an {@link ImapServerSession} as a server would, without sockets: logins through a real SASL
 * server, store requests through an {@link ImapStoreBridge} on a memory store, STARTTLS as an instant
 * handshake. `send` feeds client bytes and returns everything the session wrote in answer.
 */
export class Driver {
  readonly session: ImapServerSession;
  readonly store: MailStore;
  readonly sasl: SaslServer;
  readonly requests: string[] = [];
  closed = false;
  #bridge: ImapStoreBridge | undefined;
  #exchange: SaslServerExchange | undefined;
  #greeting = '';
  #failNext: unknown;

  readonly recent: ImapRecentClaims;

  /** `recent`: the `\Recent` registry, shared by the drivers of one simulated server. */
  constructor(
    options: ImapServerSessionOptions = {},
    sasl = testSasl(),
    store = createMemoryStore(),
    recent = new ImapRecentClaims(),
  ) {
    this.sasl = sasl;
    this.store = store;
    this.recent = recent;
    this.session = new ImapServerSession({
      authMechanisms: (secure) => sasl.mechanisms({ secure }),
      cleartextLogin: (secure) => sasl.allowsCleartext({ secure }),
      ...options,
    });
  }

  /** The output written so far without client input: the greeting (after `connect`, if asked for). */
  async start(preauthUser?: string): Promise<string> {
    if (preauthUser !== undefined) this.#bridge = await this.#bridgeFor(preauthUser);
    this.#greeting = await this.#pump();
    return this.#greeting;
  }

  /** Makes the next store request fail with `error`. */
  failNextStoreRequest(error: unknown): void {
    this.#failNext = error;
  }

  /** What the session wrote without new input, once the changes of other sessions have reached it. */
  async unsolicited(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return this.#pump();
  }

  /** Sends client text (or bytes) and returns the session's answer. */
  async send(input: string | Uint8Array): Promise<string> {
    this.session.receive(typeof input === 'string' ? new TextEncoder().encode(input) : input);
    return this.#pump();
  }

  async #pump(): Promise<string> {
    let output = '';
    for (let event = this.session.next(); event; event = this.session.next()) {
      const session = this.session;
      switch (event.type) {
        case 'write':
          output += new TextDecoder().decode(event.data);
          break;
        case 'stream': {
          const chunks: Uint8Array[] = [];
          for await (const chunk of event.source.chunks) chunks.push(chunk);
          output += new TextDecoder().decode(concatBytes(chunks));
          break;
        }
        case 'close':
          this.closed = true;
          await this.#bridge?.close();
          break;
        case 'connect':
          session.respond();
          break;
        case 'starttls':
          session.respond();
          break;
        case 'login':
          session.authStep(
            await this.#loggedIn(
              step(await this.sasl.verifyPassword(event.username, event.password, this.#context)),
            ),
          );
          break;
        case 'authenticate':
          this.#exchange = this.sasl.createExchange(this.#context);
          session.authStep(
            await this.#loggedIn(step(await this.#exchange.start(event.mechanism, event.initialResponse))),
          );
          break;
        case 'auth-response':
          session.authStep(await this.#loggedIn(step(await this.#exchange!.respond(event.line))));
          break;
        case 'store': {
          this.requests.push(event.request.op);
          const failure = this.#failNext;
          this.#failNext = undefined;
          try {
            if (failure !== undefined) throw failure;
            session.storeDone(await this.#bridge!.run(event.request));
          } catch (error) {
            session.storeFailed(error);
          }
          break;
        }
      }
    }
    return output;
  }

  get #context() {
    return { secure: this.session.secure };
  }

  async #loggedIn(outcome: ImapAuthStep): Promise<ImapAuthStep> {
    if (outcome.type === 'success') this.#bridge = await this.#bridgeFor(outcome.username);
    return outcome;
  }

  async #bridgeFor(user: string): Promise<ImapStoreBridge> {
    return new ImapStoreBridge(await this.store.user(user), {
      onChange: (change) => this.session.mailboxChanged(change),
      recent: this.recent,
    });
  }
}

/** A driver whose session is logged in as alice (cleartext allowed), greeting and login output dropped. */
export async function loggedIn(
  options: ImapServerSessionOptions = {},
  store?: MailStore,
  recent?: ImapRecentClaims,
): Promise<Driver> {
  const driver = new Driver(options, testSasl(), store, recent);
  await driver.start();
  const answer = await driver.send(`L LOGIN alice ${PASSWORD}\r\n`);
  if (!answer.startsWith('L OK')) throw new Error(answer);
  return driver;
}
