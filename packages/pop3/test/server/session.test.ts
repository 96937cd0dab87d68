import { InvalidArgumentError, type TraceEvent } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Pop3ServerEvent, Pop3ServerSession } from '../../src/server/session.js';
import { Driver, encoder, GREETING, MESSAGES, sizeOf } from './driver.js';

const TOTAL = MESSAGES.reduce((sum, message) => sum + sizeOf(message), 0);
const [ONE, TWO, THREE] = MESSAGES.map(sizeOf) as [number, number, number];

describe('Pop3ServerSession: AUTHORIZATION', () => {
  it('greets, and lists its capabilities in CAPA', () => {
    const driver = new Driver({ authMechanisms: () => ['SCRAM-SHA-256', 'PLAIN'] });
    expect(driver.output).toBe(GREETING);
    expect(driver.send('CAPA\r\n')).toBe(
      '+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL SCRAM-SHA-256 PLAIN\r\nRESP-CODES\r\n' +
        'AUTH-RESP-CODE\r\nPIPELINING\r\nUTF8 USER\r\nLANG\r\n.\r\n',
    );
    expect(driver.session.state).toBe('authorization');
  });

  it('announces EXPIRE, LOGIN-DELAY and IMPLEMENTATION when configured, in both states', () => {
    const driver = new Driver({ expire: 'never', loginDelay: 900, implementation: ' Postwire  POP3 ' });
    const capa = '+OK Capability list follows\r\nTOP\r\nUIDL\r\n';
    const policy = 'RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\nLOGIN-DELAY 900\r\n';
    const tail = 'IMPLEMENTATION Postwire POP3\r\nUTF8 USER\r\nLANG\r\n.\r\n';
    expect(driver.send('CAPA\r\n')).toBe(`${capa}USER\r\n${policy}${tail}`);
    driver.login();
    expect(driver.send('CAPA\r\n')).toBe(`${capa}${policy}${tail}`);
    expect(new Driver({ expire: 30 }).send('CAPA\r\n')).toContain('\r\nEXPIRE 30\r\n');
  });

  it('refuses bad EXPIRE and LOGIN-DELAY values at construction', () => {
    expect(() => new Pop3ServerSession({ hostname: 'h', expire: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Pop3ServerSession({ hostname: 'h', loginDelay: 1.5 })).toThrow(InvalidArgumentError);
  });

  it('logs in with USER and PASS, and opens the maildrop', () => {
    const driver = new Driver();
    expect(driver.send('USER alice\r\n')).toBe('+OK Send your password\r\n');
    expect(driver.send('PASS secret\r\n')).toBe(
      `+OK Maildrop locked and ready, 3 messages (${TOTAL} octets)\r\n`,
    );
    expect(driver.decisions).toEqual([
      { type: 'password', username: 'alice', password: 'secret' },
      { type: 'open', username: 'alice' },
    ]);
    expect(driver.session.state).toBe('transaction');
    expect(driver.session.user).toBe('alice');
  });

  it('refuses a wrong password with [AUTH], PASS without USER, and commands of the other state', () => {
    const driver = new Driver();
    expect(driver.send('USER alice\r\nPASS wrong\r\n')).toBe(
      '+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n',
    );
    expect(driver.send('PASS secret\r\n')).toBe('-ERR Send USER first\r\n');
    expect(driver.send('STAT\r\n')).toBe('-ERR STAT is not valid in the AUTHORIZATION state\r\n');
    expect(driver.send('BOGUS\r\n')).toBe('-ERR Unknown command\r\n');
    expect(driver.session.user).toBeUndefined();
    driver.login();
    expect(driver.send('USER bob\r\n')).toBe('-ERR USER is not valid in the TRANSACTION state\r\n');
  });

  it('case 44: ends the session after three failed logins', () => {
    const driver = new Driver();
    driver.send('USER a\r\nPASS x\r\nUSER a\r\nPASS x\r\n');
    expect(driver.closed).toBe(false);
    expect(driver.send('USER a\r\nPASS x\r\nUSER alice\r\n')).toBe(
      '+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n',
    );
    expect(driver.closed).toBe(true);
  });

  it('case 26: a maildrop locked by another session is refused with [IN-USE], and the session goes on', () => {
    let locked = true;
    const driver = new Driver(
      {},
      {
        open: () =>
          (locked
            ? { ok: false, code: 'IN-USE', text: 'Maildrop is locked by another session' }
            : undefined)!,
      },
    );
    expect(driver.login()).toBe(
      '+OK Send your password\r\n-ERR [IN-USE] Maildrop is locked by another session\r\n',
    );
    expect(driver.session.state).toBe('authorization');
    locked = false;
    expect(driver.login()).toContain('+OK Maildrop locked and ready');
  });

  it('passes [LOGIN-DELAY], [SYS/TEMP] and [SYS/PERM] refusals through, and defaults to [SYS/TEMP]', () => {
    for (const code of ['LOGIN-DELAY', 'SYS/TEMP', 'SYS/PERM']) {
      const driver = new Driver({}, { open: () => ({ ok: false, code, text: 'No' }) });
      expect(driver.login()).toContain(`-ERR [${code}] No\r\n`);
    }
    const driver = new Driver({}, { open: () => ({ ok: true, text: '' }) });
    expect(driver.login()).toContain('-ERR [SYS/TEMP] Cannot open the maildrop\r\n');
  });

  it('maps every SASL failure to its response', () => {
    const reasons = {
      'authorization-failed': '-ERR [AUTH] Authorization failed',
      cancelled: '-ERR Authentication cancelled',
      malformed: '-ERR Cannot decode the response',
      'too-long': '-ERR Authentication line too long',
      'mechanism-unavailable': '-ERR Unrecognized authentication mechanism',
      'encryption-required': '-ERR [AUTH] Cleartext authentication disallowed on non-secure connections',
      throttled: '-ERR [SYS/TEMP] Too many failed attempts, try again later',
      temporary: '-ERR [SYS/TEMP] Temporary authentication failure',
    } as const;
    for (const [reason, response] of Object.entries(reasons)) {
      const driver = new Driver(
        {},
        { login: () => ({ type: 'failure', reason: reason as keyof typeof reasons }) },
      );
      expect(driver.send('AUTH X\r\n')).toBe(`${response}\r\n`);
    }
  });

  it('AUTH runs a SASL exchange with + challenges (RFC 5034), and lists mechanisms when bare', () => {
    const driver = new Driver(
      { authMechanisms: () => ['X-TOKEN'] },
      {
        login: (event) => {
          if (event.type === 'auth') return { type: 'challenge', text: 'c2F5IHNvbWV0aGluZw==' };
          return event.type === 'auth-response' && event.line === 'dG9rZW4='
            ? { type: 'success', username: 'alice' }
            : { type: 'failure', reason: 'invalid-credentials' };
        },
      },
    );
    expect(driver.send('AUTH\r\n')).toBe('+OK Methods supported\r\nX-TOKEN\r\n.\r\n');
    expect(driver.send('AUTH X-TOKEN\r\n')).toBe('+ c2F5IHNvbWV0aGluZw==\r\n');
    expect(driver.send('dG9rZW4=\r\n')).toContain('+OK Maildrop locked and ready');
    const initial = `AUTH PLAIN ${'QUFB'.repeat(30)}`;
    const second = new Driver();
    second.send(`${initial}\r\n`);
    expect(second.decisions[0]).toEqual({
      type: 'auth',
      mechanism: 'PLAIN',
      initialResponse: 'QUFB'.repeat(30),
    });
  });

  it('refuses the decision methods out of turn', () => {
    const driver = new Driver();
    expect(() => driver.session.respond()).toThrow('no decision is pending');
    expect(() => driver.session.authStep({ type: 'success', username: 'x' })).toThrow('no login is pending');
    expect(() => driver.session.messageData(new Uint8Array(1))).toThrow('no message is being sent');
    expect(() => driver.session.messageEnd()).toThrow('no message is being sent');
    const session = new Pop3ServerSession({ hostname: 'h', cleartextLogin: () => true });
    session.receive(encoder.encode('USER a\r\nPASS b\r\n'));
    while (session.next()?.type !== 'password') {
      // Up to the login event.
    }
    expect(() => session.respond()).toThrow('authStep');
  });

  it('asks before greeting with connectDecision, and a refusal closes', () => {
    const admitted = new Driver({ connectDecision: true });
    expect(admitted.output).toBe(GREETING);
    const refused = new Driver(
      { connectDecision: true },
      { connect: () => ({ ok: false, code: 'SYS/TEMP', text: 'Busy' }) },
    );
    expect(refused.output).toBe('-ERR [SYS/TEMP] Busy\r\n');
    expect(refused.closed).toBe(true);
  });
});

describe('Pop3ServerSession: TRANSACTION', () => {
  it('STAT, LIST and UIDL, whole and for one message', () => {
    const driver = new Driver();
    driver.login();
    expect(driver.send('STAT\r\n')).toBe(`+OK 3 ${TOTAL}\r\n`);
    expect(driver.send('LIST\r\n')).toBe(
      `+OK 3 messages (${TOTAL} octets)\r\n1 ${ONE}\r\n2 ${TWO}\r\n3 ${THREE}\r\n.\r\n`,
    );
    expect(driver.send('LIST 2\r\n')).toBe(`+OK 2 ${TWO}\r\n`);
    expect(driver.send('UIDL\r\n')).toBe(
      '+OK Unique-ID listing follows\r\n1 uid-one\r\n2 uid-two\r\n3 uid-three\r\n.\r\n',
    );
    expect(driver.send('UIDL 3\r\n')).toBe('+OK 3 uid-three\r\n');
    expect(driver.send('LIST 4\r\n')).toBe('-ERR There is no message 4\r\n');
    expect(driver.send('UIDL 0\r\n')).toBe('-ERR Invalid message number\r\n');
  });

  it('RETR sends the message dot-stuffed, with its size', () => {
    const driver = new Driver();
    driver.login();
    expect(driver.send('RETR 1\r\n')).toBe(
      `+OK ${ONE} octets\r\nSubject: one\r\n\r\n..hidden dot\r\nbody\r\n.\r\n`,
    );
    expect(driver.decisions.at(-1)).toEqual({ type: 'retrieve', message: 1 });
  });

  it('RETR adds the final CRLF a message lacks', () => {
    const driver = new Driver({}, {}, [{ uid: 'u', text: 'Subject: x\r\n\r\nno end' }]);
    driver.login();
    expect(driver.send('RETR 1\r\n')).toBe('+OK 20 octets\r\nSubject: x\r\n\r\nno end\r\n.\r\n');
  });

  it('TOP sends the header, the blank line and n lines of the body', () => {
    const driver = new Driver();
    driver.login();
    const header = 'Subject: two\r\nFrom: a@b.test\r\n\r\n';
    expect(driver.send('TOP 2 0\r\n')).toBe(`+OK Top of message follows\r\n${header}.\r\n`);
    expect(driver.send('TOP 2 2\r\n')).toBe(
      `+OK Top of message follows\r\n${header}line 1\r\nline 2\r\n.\r\n`,
    );
    expect(driver.send('TOP 2 99\r\n')).toBe(`+OK Top of message follows\r\n${MESSAGES[1]!.text}.\r\n`);
    expect(driver.send('TOP 1 1\r\n')).toBe(
      '+OK Top of message follows\r\nSubject: one\r\n\r\n..hidden dot\r\n.\r\n',
    );
  });

  it('DELE marks a message: it leaves the listings, cannot be read, and RSET brings it back', () => {
    const driver = new Driver();
    driver.login();
    expect(driver.send('DELE 2\r\n')).toBe('+OK Message 2 deleted\r\n');
    expect(driver.send('DELE 2\r\n')).toBe('-ERR Message 2 is deleted\r\n');
    expect(driver.send('RETR 2\r\nTOP 2 1\r\nLIST 2\r\nUIDL 2\r\n')).toBe(
      '-ERR Message 2 is deleted\r\n'.repeat(4),
    );
    expect(driver.send('STAT\r\n')).toBe(`+OK 2 ${ONE + THREE}\r\n`);
    expect(driver.send('UIDL\r\n')).toBe(
      '+OK Unique-ID listing follows\r\n1 uid-one\r\n3 uid-three\r\n.\r\n',
    );
    expect(driver.send('LIST\r\n')).toBe(
      `+OK 2 messages (${ONE + THREE} octets)\r\n1 ${ONE}\r\n3 ${THREE}\r\n.\r\n`,
    );
    expect(driver.send('RSET\r\n')).toBe(`+OK Maildrop has 3 messages (${TOTAL} octets)\r\n`);
    expect(driver.send('NOOP\r\n')).toBe('+OK\r\n');
    expect(driver.send('DELE 3\r\nQUIT\r\n')).toBe(
      '+OK Message 3 deleted\r\n+OK pop.test signing off (2 messages left)\r\n',
    );
    expect(driver.updated).toEqual([3]);
    expect(driver.decisions.at(-1)).toEqual({ type: 'update', deleted: [3], retrieved: [] });
    expect(driver.closed).toBe(true);
  });

  it('QUIT enters UPDATE; an empty maildrop and a failed update are told', () => {
    const driver = new Driver();
    driver.login();
    expect(driver.send('DELE 1\r\nDELE 2\r\nDELE 3\r\nQUIT\r\n')).toContain(
      '+OK pop.test signing off (maildrop empty)\r\n',
    );
    const failing = new Driver(
      {},
      { update: () => ({ ok: false, code: 'SYS/TEMP', text: 'Some deleted messages not removed' }) },
    );
    failing.login();
    expect(failing.send('DELE 1\r\nQUIT\r\n')).toContain(
      '-ERR [SYS/TEMP] Some deleted messages not removed\r\n',
    );
    expect(failing.closed).toBe(true);
    const one = new Driver();
    one.login();
    expect(one.send('DELE 1\r\nDELE 2\r\nQUIT\r\n')).toContain('(1 message left)');
  });

  it('reports the messages retrieved whole at QUIT; with EXPIRE 0 they are deleted as if by DELE', () => {
    const keep = new Driver();
    keep.login();
    keep.send('RETR 1\r\nTOP 2 0\r\nQUIT\r\n');
    expect(keep.decisions.at(-1)).toEqual({ type: 'update', deleted: [], retrieved: [1] });
    const expire = new Driver({ expire: 0 });
    expire.login();
    expire.send('RETR 1\r\nRETR 3\r\nTOP 2 0\r\nQUIT\r\n');
    expect(expire.decisions.at(-1)).toEqual({ type: 'update', deleted: [1, 3], retrieved: [1, 3] });
  });

  it('a refused retrieval is answered with its status, and the session goes on', () => {
    const driver = new Driver(
      {},
      { retrieve: () => ({ ok: false, code: 'SYS/TEMP', text: 'Cannot read the message' }) },
    );
    driver.login();
    expect(driver.send('RETR 1\r\nNOOP\r\n')).toBe('-ERR [SYS/TEMP] Cannot read the message\r\n+OK\r\n');
  });

  it('answers pipelined commands in order (PIPELINING)', () => {
    const driver = new Driver();
    expect(driver.send('USER alice\r\nPASS secret\r\nSTAT\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n')).toBe(
      `+OK Send your password\r\n+OK Maildrop locked and ready, 3 messages (${TOTAL} octets)\r\n` +
        `+OK 3 ${TOTAL}\r\n+OK ${THREE} octets\r\n${MESSAGES[2]!.text}.\r\n+OK Message 3 deleted\r\n` +
        '+OK pop.test signing off (2 messages left)\r\n',
    );
  });

  it('case 27: refuses a listing with a malformed or repeated unique id, or a bad size', () => {
    for (const messages of [
      [{ uid: 'has space', size: 1 }],
      [{ uid: 'x'.repeat(71), size: 1 }],
      [{ uid: '', size: 1 }],
      [{ uid: 'caf\u00e9', size: 1 }],
      [
        { uid: 'same', size: 1 },
        { uid: 'same', size: 2 },
      ],
      [{ uid: 'ok', size: -1 }],
    ]) {
      const session = new Pop3ServerSession({ hostname: 'h', cleartextLogin: () => true });
      session.receive(encoder.encode('USER a\r\nPASS b\r\n'));
      for (let event = session.next(); event; event = session.next()) {
        if (event.type === 'password') session.authStep({ type: 'success', username: 'a' });
        if (event.type === 'open') {
          expect(() => session.respond({ messages })).toThrow(InvalidArgumentError);
          expect(session.state).toBe('authorization');
          break;
        }
      }
    }
  });
});

describe('Pop3ServerSession: the end of a session', () => {
  it('case 25: QUIT in AUTHORIZATION, a dropped connection or a timeout delete nothing', () => {
    const early = new Driver();
    expect(early.send('QUIT\r\n')).toBe('+OK pop.test signing off\r\n');
    expect(early.closed).toBe(true);
    expect(early.updated).toBeUndefined();

    const dropped = new Driver();
    dropped.login();
    dropped.send('DELE 1\r\nDELE 2\r\n');
    // The connection drops here: the driver never sees QUIT, so no update decision is ever made.
    expect(dropped.decisions.some((event) => event.type === 'update')).toBe(false);

    const idle = new Driver();
    idle.login();
    idle.send('DELE 1\r\n');
    idle.session.shutdown('timeout');
    idle.drain();
    expect(idle.output.endsWith('-ERR Disconnected for inactivity\r\n')).toBe(true);
    expect(idle.closed).toBe(true);
    expect(idle.updated).toBeUndefined();
    expect(idle.send('QUIT\r\n')).toBe('');
  });

  it('says [SYS/TEMP] on shutdown, and ignores answers once closed', () => {
    const driver = new Driver();
    driver.session.shutdown();
    driver.drain();
    expect(driver.output).toBe(`${GREETING}-ERR [SYS/TEMP] Server shutting down\r\n`);
    driver.session.shutdown();
    driver.session.respond();
    driver.session.authStep({ type: 'success', username: 'x' });
    expect(driver.session.messageData(new Uint8Array(1))).toBe(false);
    driver.session.messageEnd();
    driver.session.abortMessage();
    expect(driver.output).toBe(`${GREETING}-ERR [SYS/TEMP] Server shutting down\r\n`);
  });

  it('a session ended while its maildrop is being opened has no user', () => {
    const session = new Pop3ServerSession({ hostname: 'h', cleartextLogin: () => true });
    session.receive(encoder.encode('USER a\r\nPASS b\r\n'));
    for (let event = session.next(); event?.type !== 'open'; event = session.next()) {
      if (event?.type === 'password') session.authStep({ type: 'success', username: 'a' });
    }
    session.shutdown();
    session.respond({ messages: [] });
    expect(session.user).toBeUndefined();
    expect(session.state).toBe('closed');
  });

  it('a message that cannot be read to its end closes the session without its final line', () => {
    const session = new Pop3ServerSession({ hostname: 'h', cleartextLogin: () => true });
    session.receive(encoder.encode('USER a\r\nPASS b\r\nRETR 1\r\n'));
    let output = '';
    for (let event = session.next(); event; event = session.next()) {
      if (event.type === 'write') output += new TextDecoder().decode(event.data);
      if (event.type === 'password') session.authStep({ type: 'success', username: 'a' });
      if (event.type === 'open') session.respond({ messages: [{ uid: 'u', size: 10 }] });
      if (event.type === 'retrieve') {
        session.respond();
        session.messageData(encoder.encode('Subject: '));
        session.shutdown();
      }
      if (event.type === 'close') output += '<close>';
    }
    expect(output.endsWith('+OK 10 octets\r\nSubject: <close>')).toBe(true);
    expect(session.state).toBe('closed');
  });
});

describe('Pop3ServerSession: STLS, UTF8 and LANG', () => {
  it('STLS discards what was pipelined behind it (case 6), forgets USER, then no longer offers itself', () => {
    const driver = new Driver({ startTls: true, cleartextLogin: (secure) => secure });
    expect(driver.send('CAPA\r\n')).toContain('\r\nSTLS\r\n');
    expect(driver.send('USER alice\r\n')).toContain('-ERR [AUTH] Cleartext authentication disallowed');
    expect(driver.send('STLS\r\nUSER mallory\r\n')).toBe('+OK Begin TLS negotiation\r\n');
    expect(driver.session.secure).toBe(true);
    expect(driver.decisions).toEqual([{ type: 'stls' }]);
    const capa = driver.send('CAPA\r\n');
    expect(capa).not.toContain('STLS');
    expect(capa).toContain('\r\nUSER\r\n');
    expect(driver.send('PASS secret\r\n')).toBe('-ERR Send USER first\r\n');
    expect(driver.send('STLS\r\n')).toBe('-ERR Command not permitted when TLS active\r\n');
    expect(driver.login()).toContain('+OK Maildrop locked');
    expect(driver.send('STLS\r\n')).toBe('-ERR STLS is not valid in the TRANSACTION state\r\n');
    expect(new Driver().send('STLS\r\n')).toBe('-ERR STLS not available\r\n');
  });

  it('a refused STLS handshake answer is written', () => {
    const session = new Pop3ServerSession({ hostname: 'h', startTls: true });
    session.receive(encoder.encode('STLS\r\n'));
    let output = '';
    for (let event = session.next(); event; event = session.next()) {
      if (event.type === 'write') output += new TextDecoder().decode(event.data);
      if (event.type === 'stls') session.respond({ ok: false, text: 'TLS failed' });
    }
    expect(output).toContain('+OK Begin TLS negotiation\r\n-ERR TLS failed\r\n');
    expect(session.secure).toBe(false);
  });

  it('UTF8 is taken in AUTHORIZATION only, and LANG lists and picks English (RFC 6856)', () => {
    const driver = new Driver();
    expect(driver.send('UTF8\r\n')).toBe('+OK UTF8 enabled\r\n');
    expect(driver.session.utf8).toBe(true);
    expect(driver.send('LANG\r\n')).toBe('+OK Language listing follows\r\nen English\r\n.\r\n');
    expect(driver.send('LANG *\r\nLANG en-GB\r\nLANG fr\r\n')).toBe(
      '+OK Language is en\r\n+OK Language is en\r\n-ERR Unsupported language\r\n',
    );
    expect(driver.send('USER j\u00fcrgen\r\n')).toBe('+OK Send your password\r\n');
    driver.login();
    expect(driver.send('UTF8\r\n')).toBe('-ERR UTF8 is not valid in the TRANSACTION state\r\n');
    expect(driver.send('LANG en\r\n')).toBe('+OK Language is en\r\n');
  });

  it('without utf8, neither UTF8 nor LANG is offered or taken', () => {
    const driver = new Driver({ utf8: false });
    expect(driver.send('CAPA\r\n')).not.toMatch(/UTF8|LANG/);
    expect(driver.send('UTF8\r\nLANG\r\n')).toBe('-ERR UTF8 not available\r\n-ERR LANG not available\r\n');
  });
});

describe('Pop3ServerSession: logins the server does not allow', () => {
  it('case 28: no <timestamp@host> challenge unless APOP is on, and APOP is refused then', () => {
    const off = new Driver();
    expect(off.output).not.toContain('<');
    expect(off.session.apopChallenge).toBeUndefined();
    expect(off.send(`APOP alice ${'0'.repeat(32)}\r\n`)).toBe('-ERR APOP not available\r\n');

    const on = new Driver({ apop: true });
    const challenge = on.session.apopChallenge!;
    expect(challenge).toMatch(/^<[0-9a-f]{24}\.\d+@pop\.test>$/);
    expect(on.output).toBe(`+OK pop.test POP3 server ready ${challenge}\r\n`);
    expect(new Driver({ apop: true }).session.apopChallenge).not.toBe(challenge);
    on.send(`APOP alice ${'A'.repeat(32)}\r\n`);
    expect(on.decisions[0]).toEqual({ type: 'apop', username: 'alice', digest: 'a'.repeat(32), challenge });
  });

  it('case 29: before TLS, USER is absent from CAPA, and USER and PASS are refused and counted as failures', () => {
    const driver = new Driver({ cleartextLogin: (secure) => secure });
    expect(driver.send('CAPA\r\n')).not.toContain('\r\nUSER\r\n');
    const refused = '-ERR [AUTH] Cleartext authentication disallowed on non-secure connections\r\n';
    expect(driver.send('USER alice\r\n')).toBe(refused);
    expect(driver.send('PASS secret\r\n')).toBe(refused);
    expect(driver.closed).toBe(false);
    expect(driver.send('USER alice\r\n')).toBe(refused);
    expect(driver.closed).toBe(true);
    expect(driver.decisions).toEqual([]);
  });

  it('case 29: the default is USER/PASS on TLS only', () => {
    const session = new Pop3ServerSession({ hostname: 'h' });
    session.receive(encoder.encode('USER alice\r\n'));
    const events = [session.next(), session.next()];
    expect(new TextDecoder().decode((events[1] as { data: Uint8Array }).data)).toContain(
      'Cleartext authentication',
    );
    const secure = new Pop3ServerSession({ hostname: 'h' });
    secure.markSecure();
    secure.receive(encoder.encode('USER alice\r\n'));
    secure.next();
    expect(new TextDecoder().decode((secure.next() as { data: Uint8Array }).data)).toBe(
      '+OK Send your password\r\n',
    );
  });

  it('case 45: AUTH PLAIN on cleartext is refused as the SASL server says, with [AUTH]', () => {
    const driver = new Driver({}, { login: () => ({ type: 'failure', reason: 'encryption-required' }) });
    expect(driver.send('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n')).toBe(
      '-ERR [AUTH] Cleartext authentication disallowed on non-secure connections\r\n',
    );
  });
});

describe('Pop3ServerSession: limits', () => {
  it('case 50: a line over 512 octets gets -ERR and the session goes on; past the hard cap it closes', () => {
    const driver = new Driver();
    expect(driver.send(`NOOP ${'x'.repeat(506)}\r\n`)).toBe('-ERR Line too long\r\n');
    expect(driver.send('CAPA\r\n')).toContain('+OK Capability list follows');
    expect(driver.send(`AUTH PLAIN ${'QUFB'.repeat(1000)}\r\n`)).toBe(
      '+OK Maildrop locked and ready, 3 messages (112 octets)\r\n',
    );
    const capped = new Driver();
    expect(capped.send(`NOOP ${'x'.repeat(7000)}`, `${'x'.repeat(7000)}\r\nQUIT\r\n`)).toBe(
      '-ERR Line too long\r\n',
    );
    expect(capped.closed).toBe(true);
    const small = new Driver({ limits: { commandLine: 10, authLine: 100 } });
    expect(small.send('USER abcdefgh\r\n')).toBe('-ERR Line too long\r\n');
    expect(small.send(`AUTH X ${'y'.repeat(120)}\r\n`)).toBe('-ERR Line too long\r\n');
    expect(small.closed).toBe(true);
  });

  it('case 51: ends the session after too many bad commands', () => {
    const driver = new Driver({ limits: { badCommands: 3 } });
    expect(driver.send('XYZZY\r\nRETR\r\n')).toBe(
      '-ERR Unknown command\r\n-ERR Wrong number of arguments for RETR\r\n',
    );
    expect(driver.send('LIST x\r\n')).toBe('-ERR Too many bad commands\r\n');
    expect(driver.closed).toBe(true);
    const latin1 = new Driver();
    latin1.session.receive(Uint8Array.of(0x4e, 0x4f, 0x4f, 0x50, 0xff, 0x0d, 0x0a));
    latin1.drain();
    expect(latin1.output).toBe(`${GREETING}-ERR Command is not valid UTF-8\r\n`);
  });

  it('is busy while part of a command is buffered', () => {
    const driver = new Driver();
    driver.send('NO');
    expect(driver.session.busy).toBe(true);
    driver.send('OP\r\n');
    expect(driver.session.busy).toBe(false);
  });

  it('traces commands and status lines with credentials redacted', () => {
    const events: TraceEvent[] = [];
    const driver = new Driver({ trace: (event) => events.push(event) });
    driver.send('USER alice\r\nPASS secret\r\nCAPA\r\n');
    expect(events.map((event) => `${event.direction} ${event.line}`)).toEqual([
      'out +OK pop.test POP3 server ready',
      'in USER alice',
      'out +OK Send your password',
      'in PASS [redacted]',
      'out +OK Maildrop locked and ready, 3 messages (112 octets)',
      'in CAPA',
      'out +OK Capability list follows',
    ]);
  });
});

describe('Pop3ServerSession: any chunking', () => {
  const transcript =
    'CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 2\r\n' +
    'LIST 2\r\nRSET\r\nLANG\r\nNOOP\r\nBOGUS\r\nDELE 3\r\nQUIT\r\n';
  const whole = (() => {
    const driver = new Driver();
    driver.send(transcript);
    return driver.output;
  })();

  it('gives the same output for any split of the input and of the message text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: transcript.length - 1 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 64 }),
        (cuts, chunkSize) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const chunks = [0, ...points].map((start, index) =>
            transcript.slice(start, points[index] ?? undefined),
          );
          const driver = new Driver({}, {}, MESSAGES, chunkSize);
          driver.send(...chunks);
          expect(driver.output).toBe(whole);
          expect(driver.updated).toEqual([3]);
        },
      ),
    );
  });

  it('takes LF-only lines as Dovecot does', () => {
    const driver = new Driver();
    driver.send(transcript.replaceAll('\r\n', '\n'));
    expect(driver.output).toBe(whole);
  });
});

describe('Pop3ServerSession: message data', () => {
  it('hands a message on as views into its chunks, one write event per piece, never copied', () => {
    const session = new Pop3ServerSession({ hostname: 'pop.test', cleartextLogin: () => true });
    const take = () => {
      const events: Pop3ServerEvent[] = [];
      for (let event = session.next(); event; event = session.next()) events.push(event);
      return events;
    };
    const text = 'Subject: x\r\n\r\n.one\r\ntwo\r\n.three\r\n';
    const chunk = encoder.encode(text);
    take();
    session.receive(encoder.encode('USER alice\r\nPASS secret\r\n'));
    expect(take().at(-1)?.type).toBe('password');
    session.authStep({ type: 'success', username: 'alice' });
    expect(take().at(-1)?.type).toBe('open');
    session.respond({ messages: [{ uid: 'a', size: chunk.length }] });
    take();
    session.receive(encoder.encode('RETR 1\r\n'));
    expect(take()).toEqual([{ type: 'retrieve', message: 1 }]);
    session.respond();
    take();
    expect(session.messageData(chunk)).toBe(true);
    const pieces = take();
    expect(pieces).toHaveLength(3);
    const views = pieces.map((event) => (event.type === 'write' ? event.data : new Uint8Array(0)));
    expect(views.every((view) => view.buffer === chunk.buffer)).toBe(true);
    expect(views.map((view) => new TextDecoder().decode(view)).join('')).toBe(
      text.replaceAll('\r\n.', '\r\n..'),
    );
    session.messageEnd();
    expect(take()).toEqual([{ type: 'write', data: encoder.encode('.\r\n') }]);
  });
});
