import {
  AbortError,
  AuthenticationError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
} from '@postwire/core';
import type { ImapCloseDetail, ImapEmit } from './events.js';
import { type RestorableState, restoreState } from './resync.js';
import { ImapClientSession, type ImapSessionOptions } from './session.js';

/** Reconnecting when the connection drops; see `ImapClientOptions.reconnect`. */
export interface ImapReconnectOptions {
  /** Attempts before giving up (default 5). */
  readonly attempts?: number;
  /** Milliseconds before the first attempt (default 1 s), doubled after each failed one. */
  readonly delay?: number;
  /** The longest wait between two attempts, in milliseconds (default 30 s). */
  readonly maxDelay?: number;
}

/** The defaults of {@link ImapReconnectOptions}. */
export const defaultImapReconnect: Required<ImapReconnectOptions> = {
  attempts: 5,
  delay: 1_000,
  maxDelay: 30_000,
};

/** How long LOGOUT waits for its answer. */
const LOGOUT_TIMEOUT = 5_000;

/** A call's signal and timeout, as a command takes them. */
export interface CallBounds {
  readonly signal?: AbortSignal;
  readonly timeout?: number;
}

/** The session to run a call on, and the call's bounds there (what is left of its timeout). */
export interface Acquired {
  readonly session: ImapClientSession;
  readonly call: CallBounds;
}

/** The session's options, without the events: the keeper routes those. */
export type KeptSessionOptions = Omit<ImapSessionOptions, 'emit'>;

/**
 * Holds the client's session and, with `reconnect`, replaces one whose connection dropped (a
 * `ConnectionError`, or a `TimeoutError` of a silent server): it waits, connects and logs in again,
 * re-enables what was enabled and reopens the mailbox that was open, reporting what changed there as
 * events, trying again with growing delays up to `attempts` times. Calls made meanwhile wait for the new
 * session, within their own signal and timeout; those in flight at the drop have failed with it. A
 * refused login, the user's `close()` or signal end the attempts.
 */
export class SessionKeeper {
  readonly #options: KeptSessionOptions;
  readonly #reconnect: Required<ImapReconnectOptions> | undefined;
  readonly #dispatch: ImapEmit;
  #session!: ImapClientSession;
  /** During a reconnection: what the calls made meanwhile wait for. */
  #reconnecting: Waiting | undefined;
  #halt: AbortController | undefined;
  #closing = false;
  /** Why the client is done, once reconnecting gave up. */
  #failure: Error | undefined;

  constructor(options: KeptSessionOptions, reconnect: ImapReconnectOptions | undefined, dispatch: ImapEmit) {
    this.#options = options;
    this.#dispatch = dispatch;
    if (reconnect) {
      const resolved = { ...defaultImapReconnect, ...reconnect };
      if (!(Number.isSafeInteger(resolved.attempts) && resolved.attempts >= 1))
        throw new InvalidArgumentError('reconnect.attempts must be a positive integer');
      for (const name of ['delay', 'maxDelay'] as const) {
        const value = resolved[name];
        if (!(value >= 0 && value <= 2 ** 31 - 1))
          throw new InvalidArgumentError(`reconnect.${name} must be a number of milliseconds`);
      }
      this.#reconnect = resolved;
    }
  }

  /** Opens the first session; rejects as `ImapClientSession.open` does, without reconnecting. */
  async start(): Promise<void> {
    this.#session = await this.#open(this.#options.signal);
  }

  /** The session in use: during a reconnection, the new one once it is logged in, else the old one. */
  get session(): ImapClientSession {
    return this.#session;
  }

  /** Calls can be made: the session is up, or a reconnection is under way. */
  get usable(): boolean {
    if (this.#failure) return false;
    return this.#reconnecting !== undefined || this.#session.failure === undefined;
  }

  /** A reconnection is under way. */
  get reconnecting(): boolean {
    return this.#reconnecting !== undefined;
  }

  /**
   * The session for a call: the current one, or during a reconnection the new one once the mailbox is
   * restored, waited for within the call's signal and timeout.
   */
  acquire(options: CallBounds): Promise<Acquired> {
    if (this.#failure) return Promise.reject(this.#failure);
    const reconnecting = this.#reconnecting;
    if (!reconnecting) return Promise.resolve({ session: this.#session, call: callBounds(options) });
    return this.#wait(reconnecting.promise, options);
  }

  /** LOGOUT when connected (within 5 s), then {@link close}; never rejects. */
  async logout(): Promise<void> {
    this.#closing = true;
    if (!this.#reconnecting && this.#session.failure === undefined)
      await this.#session
        .run({ command: { name: 'LOGOUT' }, exclusive: true, timeout: LOGOUT_TIMEOUT })
        .catch(() => {});
    await this.close();
  }

  /** Stops reconnecting and closes the connection; never rejects. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#reconnecting) {
      this.#halt?.abort();
      this.#finish(new ConnectionError(ErrorCode.ConnectionClosed, 'the IMAP session was closed'));
    }
    await this.#session.close();
  }

  #open(signal: AbortSignal | undefined): Promise<ImapClientSession> {
    return ImapClientSession.open({
      ...this.#options,
      ...(signal && { signal }),
      emit: (type, detail) => {
        if (type === 'close') this.#dropped((detail as ImapCloseDetail).error);
        else this.#dispatch(type, detail);
      },
    });
  }

  async #wait(reconnecting: Promise<ImapClientSession>, options: CallBounds): Promise<Acquired> {
    const started = Date.now();
    const session = await bounded(reconnecting, options);
    const { signal, timeout } = options;
    return {
      session,
      call: {
        ...(signal && { signal }),
        ...(timeout !== undefined && { timeout: Math.max(1, timeout - (Date.now() - started)) }),
      },
    };
  }

  /** The session's connection ended: the client is done, or it reconnects. */
  #dropped(error: Error): void {
    // An attempt's session failed (the attempts go on), or one the client no longer uses.
    if (this.#reconnecting || this.#failure) return;
    const lost = error instanceof ConnectionError || error instanceof TimeoutError;
    if (this.#closing || !this.#reconnect || !lost) {
      this.#dispatch('close', { error });
      return;
    }
    const session = this.#session;
    const state: RestorableState = { enabled: [...session.enabled], mailbox: session.mailbox?.snapshot() };
    this.#reconnecting = waiting();
    void this.#restore(this.#reconnect, state, error);
    this.#dispatch('disconnect', { error });
  }

  async #restore(
    reconnect: Required<ImapReconnectOptions>,
    state: RestorableState,
    cause: Error,
  ): Promise<void> {
    const halt = new AbortController();
    this.#halt = halt;
    const user = this.#options.signal;
    const signal = user ? AbortSignal.any([user, halt.signal]) : halt.signal;
    let failure = cause;
    let delay = reconnect.delay;
    for (let attempt = 1; attempt <= reconnect.attempts && !signal.aborted; attempt++) {
      let session: ImapClientSession | undefined;
      try {
        await sleep(delay, signal);
        session = await this.#open(signal);
        this.#session = session;
        const resync = await restoreState(session, state, this.#dispatch);
        const reconnecting = this.#reconnecting;
        if (!reconnecting) throw new AbortError('the IMAP session was closed while reconnecting');
        this.#reconnecting = undefined;
        this.#dispatch('reconnect', { attempts: attempt, mailbox: session.mailbox?.snapshot(), resync });
        reconnecting.resolve(session);
        return;
      } catch (error) {
        failure = error as Error;
        await session?.close();
        if (failure instanceof AuthenticationError) break;
        delay = Math.min(delay * 2, reconnect.maxDelay);
      }
    }
    this.#finish(failure);
  }

  /** The client is done (once): the calls waiting for a reconnection fail with `error`, and `close` is dispatched. */
  #finish(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    const reconnecting = this.#reconnecting;
    this.#reconnecting = undefined;
    reconnecting?.reject(error);
    this.#dispatch('close', { error });
  }
}

/** A promise settled from outside. */
interface Waiting {
  readonly promise: Promise<ImapClientSession>;
  resolve(session: ImapClientSession): void;
  reject(error: Error): void;
}

function waiting(): Waiting {
  let resolve!: (session: ImapClientSession) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<ImapClientSession>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** A call's signal and timeout, only those given. */
export function callBounds(options: CallBounds): CallBounds {
  return {
    ...(options.signal && { signal: options.signal }),
    ...(options.timeout !== undefined && { timeout: options.timeout }),
  };
}

/** `promise`, given up on the call's signal (`AbortError`) or timeout (`TimeoutError`). */
function bounded<T>(promise: Promise<T>, { signal, timeout }: CallBounds): Promise<T> {
  if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  if (!signal && timeout === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const settle = (done: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      done();
    };
    const onAbort = (): void => settle(() => reject(new AbortError(undefined, { cause: signal?.reason })));
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(
            () => settle(() => reject(new TimeoutError(`not reconnected within ${timeout} ms`))),
            timeout,
          );
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/** Waits `ms` milliseconds; rejects with an `AbortError` when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(undefined, { cause: signal.reason }));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
