import { describe, expect, it } from 'vitest';
import { ImapServerSession } from '../../src/index.js';
import { Driver, PASSWORD, testSasl } from './driver.js';

const PLAIN = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

describe('ImapServerSession: greeting, CAPABILITY, NOOP, ID, LOGOUT', () => {
  it('greets with its capabilities, LOGINDISABLED and STARTTLS before TLS, AUTH= from the SASL server', async () => {
    const driver = new Driver({ startTls: true }, testSasl(false));
    const greeting = await driver.start();
    expect(greeting).toBe(
      '* OK [CAPABILITY IMAP4rev1 LITERAL+ IMAP4rev2 SASL-IR ID ENABLE NAMESPACE UNSELECT UIDPLUS MOVE ' +
        'LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE CHILDREN STATUS=SIZE UTF8=ACCEPT BINARY IDLE ' +
        'CONDSTORE QRESYNC ESEARCH SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ' +
        'WITHIN QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE UNAUTHENTICATE OBJECTID ' +
        'APPENDLIMIT=67108864 STARTTLS LOGINDISABLED AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=CRAM-MD5] ' +
        'Postwire IMAP ready\r\n',
    );
    expect(await driver.send('a CAPABILITY\r\nb NOOP\r\nc ID NIL\r\n')).toBe(
      `* CAPABILITY ${driver.session.capabilities.join(' ')}\r\na OK Capability completed\r\n` +
        'b OK NOOP completed\r\n* ID ("name" "Postwire")\r\nc OK ID completed\r\n',
    );
    expect(await driver.send('d LOGOUT\r\ne NOOP\r\n')).toBe(
      '* BYE Logging out\r\nd OK Logout completed\r\n',
    );
    expect(driver.closed).toBe(true);
    expect(driver.session.state).toBe('logout');
  });

  it('offers LITERAL- when told, and greets with PREAUTH', async () => {
    const driver = new Driver({ nonSyncLiterals: 'minus', preauth: 'alice', greeting: 'hi' });
    const greeting = await driver.start('alice');
    expect(greeting).toMatch(
      /^\* PREAUTH \[CAPABILITY IMAP4rev1 LITERAL- IMAP4rev2 .*UNAUTHENTICATE OBJECTID APPENDLIMIT=\d+\] Logged in as alice\r\n$/,
    );
    expect(driver.session.state).toBe('authenticated');
    expect(await driver.send('a CREATE x\r\n')).toMatch(/^a OK \[MAILBOXID \(\w+\)\] CREATE completed\r\n$/);
  });

  it('asks the driver before greeting, and says BYE when it refuses', async () => {
    const session = new ImapServerSession({ connectDecision: true });
    expect(session.next()).toEqual({ type: 'connect' });
    expect(session.next()).toBeUndefined();
    session.respond('Go away');
    expect(new TextDecoder().decode((session.next() as { data: Uint8Array }).data)).toBe('* BYE Go away\r\n');
    expect(session.next()).toEqual({ type: 'close' });
    session.respond();
    expect(() =>
      new ImapServerSession({ connectDecision: true }).authStep({ type: 'challenge', text: '' }),
    ).toThrow(/no auth decision/);
  });

  it('ends an idle session with BYE, and a shutdown with BYE [UNAVAILABLE]', async () => {
    const idle = new Driver();
    await idle.start();
    idle.session.shutdown('timeout');
    expect(await idle.send('')).toBe('* BYE Disconnected for inactivity\r\n');
    expect(idle.closed).toBe(true);
    const down = new Driver();
    await down.start();
    down.session.shutdown();
    down.session.shutdown();
    expect(await down.send('a NOOP\r\n')).toBe('* BYE [UNAVAILABLE] Server shutting down\r\n');
  });
});

describe('ImapServerSession: LOGIN and AUTHENTICATE', () => {
  it('case 45: refuses LOGIN before TLS with NO [PRIVACYREQUIRED], and advertises LOGINDISABLED', async () => {
    const driver = new Driver({ startTls: true }, testSasl(false));
    expect(await driver.start()).toContain(' LOGINDISABLED ');
    expect(await driver.send(`a LOGIN alice ${PASSWORD}\r\n`)).toBe(
      'a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections\r\n',
    );
    expect(await driver.send(`b AUTHENTICATE PLAIN ${PLAIN('alice', PASSWORD)}\r\n`)).toBe(
      'b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections\r\n',
    );
    expect(driver.session.state).toBe('not-authenticated');
  });

  it('case 6: STARTTLS discards what was pipelined behind it, then allows LOGIN on TLS', async () => {
    const driver = new Driver({ startTls: true }, testSasl(false));
    await driver.start();
    expect(await driver.send(`a STARTTLS\r\nb LOGIN alice ${PASSWORD}\r\n`)).toBe(
      'a OK Begin TLS negotiation now\r\n',
    );
    expect(driver.session.secure).toBe(true);
    expect(driver.session.state).toBe('not-authenticated');
    const caps = await driver.send('c CAPABILITY\r\n');
    expect(caps).not.toMatch(/STARTTLS|LOGINDISABLED/);
    expect(caps).toContain('AUTH=PLAIN');
    expect(await driver.send('d STARTTLS\r\n')).toBe('d BAD TLS is already active\r\n');
    expect(await driver.send(`e LOGIN alice ${PASSWORD}\r\n`)).toMatch(
      /^e OK \[CAPABILITY IMAP4rev1 .*\] Logged in\r\n$/,
    );
    expect(driver.session.user).toBe('alice');
  });

  it('refuses STARTTLS when it is not offered', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send('a STARTTLS\r\n')).toBe('a BAD STARTTLS is not available\r\n');
  });

  it('LOGIN: a wrong password is NO [AUTHENTICATIONFAILED]; the third failure ends the session', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send('a LOGIN alice wrong\r\n')).toBe(
      'a NO [AUTHENTICATIONFAILED] Authentication failed\r\n',
    );
    expect(await driver.send('b LOGIN "alice" {5}\r\n')).toBe('+ Ready for literal data\r\n');
    expect(await driver.send('wrong\r\n')).toBe('b NO [AUTHENTICATIONFAILED] Authentication failed\r\n');
    expect(await driver.send('c LOGIN bob wrong\r\n')).toBe(
      'c NO [AUTHENTICATIONFAILED] Authentication failed\r\n* BYE Too many authentication failures\r\n',
    );
    expect(driver.closed).toBe(true);
  });

  it('AUTHENTICATE PLAIN with SASL-IR, and with a continuation', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send(`a AUTHENTICATE PLAIN ${PLAIN('alice', PASSWORD)}\r\n`)).toMatch(
      /^a OK \[CAPABILITY .*\] Logged in\r\n$/,
    );
    expect(driver.session.state).toBe('authenticated');
    const second = new Driver();
    await second.start();
    expect(await second.send('b AUTHENTICATE PLAIN\r\n')).toBe('+ \r\n');
    expect(await second.send(`${PLAIN('alice', PASSWORD)}\r\n`)).toMatch(/^b OK \[CAPABILITY /);
    expect(second.session.user).toBe('alice');
  });

  it('AUTHENTICATE: `*` cancels with BAD, an empty SASL-IR (`=`) asks again, an unknown mechanism is NO', async () => {
    const driver = new Driver();
    await driver.start();
    expect(await driver.send('a AUTHENTICATE LOGIN\r\n')).toMatch(/^\+ \S+\r\n$/);
    expect(await driver.send('*\r\n')).toBe('a BAD Authentication cancelled\r\n');
    expect(await driver.send('b AUTHENTICATE PLAIN =\r\n')).toBe('b BAD Invalid authentication response\r\n');
    expect(await driver.send('c AUTHENTICATE X-UNKNOWN\r\n')).toBe(
      'c NO Unsupported authentication mechanism\r\n* BYE Too many authentication failures\r\n',
    );
  });

  it('AUTHENTICATE CRAM-MD5, a mechanism with a server challenge', async () => {
    const driver = new Driver();
    await driver.start();
    const challenge = await driver.send('a AUTHENTICATE CRAM-MD5\r\n');
    const nonce = Buffer.from(challenge.slice(2).trim(), 'base64').toString();
    const { createHmac } = await import('node:crypto');
    const digest = createHmac('md5', PASSWORD).update(nonce).digest('hex');
    expect(await driver.send(`${Buffer.from(`alice ${digest}`).toString('base64')}\r\n`)).toMatch(/^a OK /);
  });

  it('a continuation answer made of a literal is malformed', async () => {
    const driver = new Driver();
    await driver.start();
    await driver.send('a AUTHENTICATE PLAIN\r\n');
    expect(await driver.send('x {1+}\r\ny\r\n')).toBe('a BAD Invalid authentication response\r\n');
  });

  it('only CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, AUTHENTICATE and LOGIN before login', async () => {
    const driver = new Driver({ limits: { badCommandsBeforeLogin: 10 } });
    await driver.start();
    for (const command of ['SELECT INBOX', 'LIST "" *', 'ENABLE IMAP4rev2', 'FETCH 1 FLAGS', 'CLOSE'])
      expect(await driver.send(`a ${command}\r\n`)).toBe(
        'a BAD Command unknown or not valid in this state\r\n',
      );
    expect(driver.requests).toEqual([]);
  });
});
