import { describe, expect, it } from 'vitest';
import type { SmtpAuthStep } from '../../src/server/session.js';
import { Driver } from './driver.js';

const refuse = (): SmtpAuthStep => ({ type: 'failure', reason: 'invalid-credentials' });
const accept = (): SmtpAuthStep => ({ type: 'success', username: 'alice' });

/** Replies in a transcript, one per element. */
function replies(text: string): string[] {
  return text.split('\r\n').filter(Boolean);
}

describe('SmtpServerSession: failed authentication', () => {
  it('case 44: the third failed AUTH ends the session with 421 4.7.0', () => {
    const driver = new Driver({ authMechanisms: () => ['PLAIN'] }, {}, refuse);
    driver.send('EHLO c\r\n');
    expect(driver.send('AUTH PLAIN AGEAYg==\r\n')).toBe('535 5.7.8 Authentication credentials invalid\r\n');
    expect(driver.send('AUTH PLAIN AGEAYg==\r\n')).toBe('535 5.7.8 Authentication credentials invalid\r\n');
    expect(driver.closed).toBe(false);
    expect(replies(driver.send('AUTH PLAIN AGEAYg==\r\n'))).toEqual([
      '535 5.7.8 Authentication credentials invalid',
      '421 4.7.0 mx.test Too many failed authentications',
    ]);
    expect(driver.closed).toBe(true);
  });

  it('takes the number of failures from limits.authFailures', () => {
    const driver = new Driver({ authMechanisms: () => ['PLAIN'], limits: { authFailures: 1 } }, {}, refuse);
    driver.send('EHLO c\r\n');
    expect(replies(driver.send('AUTH PLAIN AGEAYg==\r\n'))).toEqual([
      '535 5.7.8 Authentication credentials invalid',
      '421 4.7.0 mx.test Too many failed authentications',
    ]);
  });
});

describe('SmtpServerSession: a SASL response past the limit', () => {
  it('case 46: ends the exchange with 500 5.5.6, and the next line is a command again', () => {
    const driver = new Driver({ authMechanisms: () => ['PLAIN'] }, {}, () => ({
      type: 'challenge',
      text: '',
    }));
    driver.send('EHLO c\r\n');
    driver.send('AUTH PLAIN\r\n');
    expect(driver.send(`${'A'.repeat(12_289)}\r\n`)).toBe(
      '500 5.5.6 Authentication exchange line is too long\r\n',
    );
    expect(driver.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(driver.decisions.map((event) => event.type)).toEqual(['helo', 'auth']);
  });
});

describe('SmtpServerSession: commands before authentication (submission)', () => {
  it('ends the session with 421 4.7.0 at the 11th command before AUTH, bad ones included', () => {
    const driver = new Driver({ requireAuth: true, authMechanisms: () => ['PLAIN'] });
    let output = driver.send('EHLO c\r\n');
    for (let i = 0; i < 8; i++) output += driver.send('NOOP\r\n');
    output += driver.send('BOGUS\r\n');
    expect(driver.closed).toBe(false);
    expect(driver.send('NOOP\r\n')).toBe('421 4.7.0 mx.test Too many unauthenticated commands\r\n');
    expect(driver.closed).toBe(true);
    expect(replies(output).at(-1)).toBe('500 5.5.2 Command not recognized');
  });

  it('does not count AUTH, and stops counting once the client has authenticated', () => {
    const driver = new Driver({ requireAuth: true, authMechanisms: () => ['PLAIN'] }, {}, accept);
    driver.send('EHLO c\r\n');
    for (let i = 0; i < 9; i++) driver.send('NOOP\r\n');
    expect(driver.send('AUTH PLAIN AGFsaWNlAHB3\r\n')).toBe('235 2.7.0 Authentication successful\r\n');
    for (let i = 0; i < 20; i++) expect(driver.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(driver.closed).toBe(false);
  });

  it('counts nothing when authentication is optional, and follows limits.unauthenticatedCommands', () => {
    const optional = new Driver({ authMechanisms: () => ['PLAIN'] });
    for (let i = 0; i < 30; i++) expect(optional.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    const strict = new Driver({ requireAuth: true, limits: { unauthenticatedCommands: 2 } });
    expect(replies(strict.send('NOOP\r\n', 'NOOP\r\n', 'NOOP\r\n'))).toEqual([
      '250 2.0.0 OK',
      '250 2.0.0 OK',
      '421 4.7.0 mx.test Too many unauthenticated commands',
    ]);
  });
});
