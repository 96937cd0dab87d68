import { describe, expect, it } from 'vitest';
import {
  AbortError,
  AuthenticationError,
  ErrorCode,
  InvalidArgumentError,
  LimitExceededError,
  PostwireError,
  ProtocolError,
  resolveLimits,
  shouldStartTls,
  TimeoutError,
  TlsError,
} from '../src/index.js';

describe('resolveLimits', () => {
  const defaults = { maxLineLength: 512, maxRecipients: 1000 };

  it('keeps the defaults and applies overrides', () => {
    expect(resolveLimits(defaults, undefined)).toEqual(defaults);
    const limits = resolveLimits(defaults, { maxRecipients: 50, maxLineLength: Number.POSITIVE_INFINITY });
    expect(limits).toEqual({ maxLineLength: Number.POSITIVE_INFINITY, maxRecipients: 50 });
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it('shares one result for frozen defaults and frozen (or no) overrides, and only then', () => {
    const frozen = Object.freeze({ ...defaults });
    const overrides = Object.freeze({ maxRecipients: 50 });
    expect(resolveLimits(frozen, undefined)).toBe(resolveLimits(frozen, undefined));
    expect(resolveLimits(frozen, overrides)).toBe(resolveLimits(frozen, overrides));
    expect(resolveLimits(frozen, overrides)).toEqual({ maxLineLength: 512, maxRecipients: 50 });
    const mutable = { maxRecipients: 50 };
    const first = resolveLimits(frozen, mutable);
    mutable.maxRecipients = 60;
    expect(resolveLimits(frozen, mutable)).toEqual({ maxLineLength: 512, maxRecipients: 60 });
    expect(first.maxRecipients).toBe(50);
    expect(resolveLimits(defaults, undefined)).not.toBe(resolveLimits(defaults, undefined));
  });

  it('rejects unknown names and values that are not positive integers', () => {
    expect(() => resolveLimits(defaults, { maxLines: 3 } as never)).toThrow(InvalidArgumentError);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolveLimits(defaults, { maxLineLength: bad })).toThrow(/positive integer/);
    }
  });

  it('rejects names of Object.prototype members as unknown limits', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      expect(() => resolveLimits(defaults, { [name]: 3 } as never), name).toThrow(`unknown limit "${name}"`);
    }
  });
});

describe('errors', () => {
  it('carry stable codes, their class name, and a cause', () => {
    const cause = new Error('socket');
    const cases: [PostwireError, string][] = [
      [new ProtocolError('bad', { cause }), ErrorCode.Protocol],
      [new LimitExceededError('maxRecipients', 1000), ErrorCode.LimitExceeded],
      [new TimeoutError('idle'), ErrorCode.Timeout],
      [new AbortError(), ErrorCode.Aborted],
      [new AuthenticationError(), ErrorCode.AuthFailed],
      [new TlsError(ErrorCode.Tls, 'handshake'), ErrorCode.Tls],
    ];
    for (const [error, code] of cases) {
      expect(error).toBeInstanceOf(PostwireError);
      expect(error.code).toBe(code);
      expect(error.name).toBe(error.constructor.name);
    }
    expect(cases[0]![0].cause).toBe(cause);
    expect(new LimitExceededError('maxRecipients', 1000).message).toBe(
      'maxRecipients exceeds the limit of 1000',
    );
  });
});

describe('shouldStartTls', () => {
  it('follows the policy', () => {
    expect(shouldStartTls('opportunistic', true)).toBe(true);
    expect(shouldStartTls('opportunistic', false)).toBe(false);
    expect(shouldStartTls('never', true)).toBe(false);
    expect(shouldStartTls('required', true)).toBe(true);
    expect(shouldStartTls('required', false, true)).toBe(false);
  });

  it('case 8: refuses to go on in cleartext when STARTTLS is required but missing', () => {
    expect(() => shouldStartTls('required', false)).toThrow(TlsError);
    try {
      shouldStartTls('required', false);
    } catch (error) {
      expect((error as TlsError).code).toBe(ErrorCode.StartTlsRequired);
    }
  });
});
