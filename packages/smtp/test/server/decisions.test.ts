import { describe, expect, it } from 'vitest';
import { SmtpServerSession } from '../../src/server/session.js';
import { Driver, decoder, encoder, GREETING } from './driver.js';

const REFUSED = { code: 554, enhancedCode: '5.7.1', lines: ['Your address is on a block list'] };

describe('SmtpServerSession: the connect decision', () => {
  it('writes nothing until the application admits the client, then the usual greeting', () => {
    const session = new SmtpServerSession({ hostname: 'mx.test', connectDecision: true });
    expect(session.next()).toEqual({ type: 'connect' });
    session.receive(encoder.encode('EHLO c\r\n'));
    expect(session.next()).toBeUndefined();
    session.respond();
    expect(decoder.decode((session.next() as { data: Uint8Array }).data)).toBe(GREETING);
    expect(session.next()).toMatchObject({ type: 'helo', domain: 'c' });
  });

  it('writes a refusal in place of the greeting and closes, reading no command', () => {
    const driver = new Driver({ connectDecision: true }, { connect: () => REFUSED });
    expect(driver.output).toBe('554 5.7.1 Your address is on a block list\r\n');
    expect(driver.closed).toBe(true);
    expect(driver.send('EHLO c\r\nMAIL FROM:<a@b.test>\r\n')).toBe('');
    expect(driver.decisions).toEqual([{ type: 'connect' }]);
  });

  it('takes a 421 as a refusal too, and a 220 of its own as the greeting', () => {
    const busy = new Driver(
      { connectDecision: true },
      { connect: () => ({ code: 421, enhancedCode: '4.3.2', lines: ['Busy, try later'] }) },
    );
    expect(busy.output).toBe('421 4.3.2 Busy, try later\r\n');
    expect(busy.closed).toBe(true);
    const custom = new Driver(
      { connectDecision: true },
      { connect: () => ({ code: 220, lines: ['mx.test ready'] }) },
    );
    expect(custom.output).toBe('220 mx.test ready\r\n');
    expect(custom.closed).toBe(false);
  });

  it('ignores an answer that comes after the session was shut down', () => {
    const session = new SmtpServerSession({ hostname: 'mx.test', connectDecision: true });
    expect(session.next()).toEqual({ type: 'connect' });
    session.shutdown();
    expect(() => session.respond()).not.toThrow();
    const written = [];
    for (let event = session.next(); event; event = session.next()) written.push(event.type);
    expect(written).toEqual(['write', 'close']);
  });
});

describe('SmtpServerSession: VRFY and EXPN by policy', () => {
  it('answers VRFY 252 2.5.2 and EXPN 502 5.5.1 by default (RFC 5321 §3.5.3, §7.3)', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.send('VRFY bob\r\n')).toBe(
      '252 2.5.2 Cannot verify the user, but will accept the message\r\n',
    );
    expect(driver.send('EXPN staff\r\n')).toBe('502 5.5.1 EXPN not available\r\n');
    expect(driver.decisions.slice(1)).toEqual([
      { type: 'vrfy', argument: 'bob' },
      { type: 'expn', argument: 'staff' },
    ]);
  });

  it("writes the application's answer, positive or not", () => {
    const driver = new Driver(
      {},
      {
        vrfy: (event) =>
          event.type === 'vrfy' && event.argument === 'bob'
            ? { code: 250, enhancedCode: '2.1.5', lines: ['Bob <bob@mx.test>'] }
            : { code: 550, enhancedCode: '5.1.1', lines: ['No such user'] },
        expn: () => ({ code: 250, enhancedCode: '2.1.5', lines: ['<a@mx.test>', '<b@mx.test>'] }),
      },
    );
    driver.send('HELO c\r\n');
    expect(driver.send('VRFY bob\r\n')).toBe('250 2.1.5 Bob <bob@mx.test>\r\n');
    expect(driver.send('VRFY eve\r\n')).toBe('550 5.1.1 No such user\r\n');
    expect(driver.send('EXPN staff\r\n')).toBe('250-2.1.5 <a@mx.test>\r\n250 2.1.5 <b@mx.test>\r\n');
  });

  it('case 3: VRFY ends a pipelined group, so a command behind it ends the session with 554', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.send('VRFY bob\r\nNOOP\r\n')).toBe('554 5.5.0 Error: SMTP protocol synchronization\r\n');
    expect(driver.decisions.map((event) => event.type)).toEqual(['helo']);
    expect(driver.closed).toBe(true);
  });
});

describe('SmtpServerSession: what a driver reads of the transaction', () => {
  it('is in a transaction from an accepted MAIL to the end of the message, and counts its octets', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.session.inTransaction).toBe(false);
    driver.send('MAIL FROM:<a@b.test>\r\n');
    expect(driver.session.inTransaction).toBe(true);
    driver.send('RSET\r\n');
    expect(driver.session.inTransaction).toBe(false);
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('12345678\r\n');
    expect(driver.session.messageSize).toBe(10);
    expect(driver.session.inTransaction).toBe(true);
    driver.send('.\r\n');
    expect(driver.session.inTransaction).toBe(false);
    const refused = new Driver({}, { mail: () => ({ code: 550, enhancedCode: '5.7.1', lines: ['No'] }) });
    refused.send('EHLO c\r\n');
    refused.send('MAIL FROM:<a@b.test>\r\n');
    expect(refused.session.inTransaction).toBe(false);
  });
});
