import { decodeBase64, encodeBase64, InvalidArgumentError } from '@postwire/core';
import { isSafeName } from './identity-text.js';
import type { SaslLimits } from './limits.js';
import type {
  AuthIdentity,
  SaslConnectionContext,
  SaslFailureReason,
  ServerMechanism,
  ServerStep,
  ServerStepFunction,
} from './mechanism.js';
import { EMPTY } from './steps.js';
import type { SaslThrottle } from './throttle.js';

/** What a protocol server does next, after a command or a response line. */
export type SaslServerOutcome =
  /** Send a continuation: SMTP `334 <text>`, IMAP and POP3 `+ <text>` (the text may be empty). */
  | {
      /** Send a continuation. */
      readonly type: 'challenge';
      /** The challenge in base64. */
      readonly text: string;
    }
  /** Authenticated. `additionalData` (base64) is set only when the protocol carries data with success. */
  | {
      /** Authenticated. */
      readonly type: 'success';
      /** The mechanism that authenticated the client. */
      readonly mechanism: string;
      /** Who authenticated, and as whom they act. */
      readonly identity: AuthIdentity;
      /** Data sent with success (base64), when the protocol carries it. */
      readonly additionalData?: string;
    }
  /** Failed; map `reason` to the protocol's reply. `cause` is set when a verifier or hook threw. */
  | {
      /** Failed. */
      readonly type: 'failure';
      /** Why it failed. */
      readonly reason: SaslFailureReason;
      /** What a verifier or hook threw, when one did. */
      readonly cause?: unknown;
    };

/** How the protocol frames an exchange. */
export interface SaslServerExchangeOptions {
  /**
   * True when the protocol's success reply can carry additional data (IMAP4rev2 `OK [SASL …]`-style).
   * Otherwise (SMTP, POP3, IMAP4rev1) such data is sent as a last challenge that the client answers
   * with an empty line, as RFC 4422 §5 requires.
   */
  successData?: boolean;
}

/**
 * One server-side SASL exchange, driven by protocol lines. `start` takes the mechanism and the
 * initial response as written on the command line (`=` for an empty one); `respond` takes each
 * client line, where `*` cancels. Base64, the response limit, authorization and the throttling
 * hooks are handled here, once for SMTP, POP3 and IMAP.
 */
export interface SaslServerExchange {
  /** The mechanism being run, upper case, once started. */
  readonly mechanism: string | undefined;
  /** True once the exchange has succeeded or failed. */
  readonly done: boolean;
  /**
   * Starts the exchange (once). `initialResponse` is the base64 text after the mechanism name, `=` for
   * an empty one, or `undefined` when the command had none; an empty string is malformed.
   */
  start(mechanism: string, initialResponse?: string): Promise<SaslServerOutcome>;
  /** Takes the client's line after a challenge: base64 (empty for empty data) or `*` to cancel. */
  respond(line: string): Promise<SaslServerOutcome>;
}

/** What an exchange needs from its server. */
export interface ExchangePolicy {
  /** The enabled mechanism of that name, or `undefined`. */
  find(name: string): ServerMechanism | undefined;
  allowsCleartext(context: SaslConnectionContext): boolean;
  authorize(username: string, authzid: string, context: SaslConnectionContext): Promise<boolean>;
  readonly throttle: SaslThrottle;
  readonly limits: Readonly<SaslLimits>;
}

type State = 'idle' | 'running' | 'success-data' | 'done';

/**
 * A mechanism name as a client may write it: printable ASCII, so that case folding cannot turn
 * another script's letter into an ASCII one (`ſ` upper-cases to `S`).
 */
const ASCII_NAME = /^[\x21-\x7e]+$/;
type SuccessOutcome = Extract<SaslServerOutcome, { type: 'success' }>;

/** Creates an exchange; `createSaslServer().createExchange` is the public way in. */
export function createServerExchange(
  policy: ExchangePolicy,
  context: SaslConnectionContext,
  options: SaslServerExchangeOptions = {},
): SaslServerExchange {
  let state: State = 'idle';
  let mechanismName: string | undefined;
  let step: ServerStepFunction | undefined;
  let pendingSuccess: SuccessOutcome | undefined;
  /** True once the mechanism has refused the credentials and `onFailure` has run for it. */
  let refused = false;

  const end = (outcome: SaslServerOutcome): SaslServerOutcome => {
    state = 'done';
    return outcome;
  };
  const fail = (reason: SaslFailureReason, cause?: unknown): SaslServerOutcome =>
    end(cause === undefined ? { type: 'failure', reason } : { type: 'failure', reason, cause });

  const decode = (text: string): Uint8Array | SaslFailureReason => {
    if (text.length > policy.limits.maxResponseLength) return 'too-long';
    return decodeBase64(text) ?? 'malformed';
  };

  const advance = async (response: Uint8Array | undefined): Promise<SaslServerOutcome> => {
    try {
      return await handle(await step!(response));
    } catch (cause) {
      return fail('temporary', cause);
    }
  };

  const handle = async (result: ServerStep): Promise<SaslServerOutcome> => {
    if (result.type === 'challenge') {
      if (result.refused && !refused) {
        refused = true;
        await policy.throttle.onFailure?.(context, result.refused.username, mechanismName!);
      }
      return { type: 'challenge', text: encodeBase64(result.challenge) };
    }
    if (result.type === 'failure') {
      if (result.reason === 'invalid-credentials' && !refused) {
        await policy.throttle.onFailure?.(context, result.username, mechanismName!);
      }
      return fail(result.reason);
    }
    if (refused) return fail('invalid-credentials');
    const { identity, additionalData } = result;
    const { username, authzid } = identity;
    if (!username || !isSafeName(username) || (authzid !== undefined && !isSafeName(authzid))) {
      return fail('malformed');
    }
    if (
      authzid !== undefined &&
      authzid !== username &&
      !(await policy.authorize(username, authzid, context))
    ) {
      await policy.throttle.onFailure?.(context, username, mechanismName!);
      return fail('authorization-failed');
    }
    const outcome = { type: 'success', mechanism: mechanismName!, identity } as const;
    if (additionalData === undefined || additionalData.length === 0) return succeed(outcome);
    if (options.successData) return succeed({ ...outcome, additionalData: encodeBase64(additionalData) });
    state = 'success-data';
    pendingSuccess = outcome;
    return { type: 'challenge', text: encodeBase64(additionalData) };
  };

  const succeed = async (outcome: SuccessOutcome): Promise<SaslServerOutcome> => {
    await policy.throttle.onSuccess?.(context, outcome.identity, outcome.mechanism);
    return end(outcome);
  };

  return {
    get mechanism() {
      return mechanismName;
    },
    get done() {
      return state === 'done';
    },
    async start(name, initialResponse) {
      if (state !== 'idle') throw new InvalidArgumentError('this SASL exchange has already started');
      state = 'running';
      mechanismName = name.toUpperCase();
      const mechanism = ASCII_NAME.test(name) ? policy.find(mechanismName) : undefined;
      if (!mechanism) return fail('mechanism-unavailable');
      if (mechanism.cleartext && !policy.allowsCleartext(context)) return fail('encryption-required');
      try {
        if (mechanism.available && !mechanism.available(context)) return fail('mechanism-unavailable');
        if ((await policy.throttle.beforeAttempt?.(context)) === false) return fail('throttled');
      } catch (cause) {
        return fail('temporary', cause);
      }
      let response: Uint8Array | undefined;
      if (initialResponse !== undefined) {
        if (initialResponse === '') return fail('malformed');
        const decoded = initialResponse === '=' ? EMPTY : decode(initialResponse);
        if (typeof decoded === 'string') return fail(decoded);
        response = decoded;
      }
      try {
        step = mechanism.start(context);
      } catch (cause) {
        return fail('temporary', cause);
      }
      return advance(response);
    },
    async respond(line) {
      if (state !== 'running' && state !== 'success-data') {
        throw new InvalidArgumentError('this SASL exchange is not waiting for a response');
      }
      if (line === '*') return fail('cancelled');
      const decoded = decode(line);
      if (typeof decoded === 'string') return fail(decoded);
      if (state === 'success-data') {
        if (decoded.length !== 0) return fail('malformed');
        try {
          return await succeed(pendingSuccess!);
        } catch (cause) {
          return fail('temporary', cause);
        }
      }
      return advance(decoded);
    },
  };
}

/**
 * An exchange's step as a protocol's sans-IO session takes it: a base64 challenge to send (SMTP `334`,
 * IMAP and POP3 `+`), the user now authenticated, or why it failed (the session picks its reply).
 */
export type SaslSessionStep =
  | {
      /** Send a continuation. */
      readonly type: 'challenge';
      /** The challenge in base64. */
      readonly text: string;
    }
  | {
      /** Authenticated. */
      readonly type: 'success';
      /** The user now authenticated (the authentication identity). */
      readonly username: string;
    }
  | {
      /** Failed. */
      readonly type: 'failure';
      /** Why it failed. */
      readonly reason: SaslFailureReason;
    };

/** An exchange's outcome as the step a protocol session takes. */
export function toSessionStep(outcome: SaslServerOutcome): SaslSessionStep {
  if (outcome.type === 'success') return { type: 'success', username: outcome.identity.username };
  if (outcome.type === 'failure') return { type: 'failure', reason: outcome.reason };
  return outcome;
}
