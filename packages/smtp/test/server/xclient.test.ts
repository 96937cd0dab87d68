import { describe, expect, it } from 'vitest';
import { parseCommand, SmtpCommandError } from '../../src/protocol/command.js';
import type { SmtpEnvelope } from '../../src/server/session.js';
import { applyXforward, parseXclient } from '../../src/server/xclient.js';
import { Driver } from './driver.js';

/** The attributes of an XCLIENT or XFORWARD line, as the grammar gives them. */
function attributes(line: string): ReadonlyMap<string, string> {
  const command = parseCommand(line);
  if (command.verb !== 'XCLIENT' && command.verb !== 'XFORWARD') throw new Error(`not XCLIENT: ${line}`);
  return command.attributes;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof SmtpCommandError) return `${error.replyCode} ${error.enhancedCode} ${error.message}`;
    throw error;
  }
  throw new Error('no error');
}

const PROXY_GREETING = '220 mx.test ESMTP Postwire\r\n';

describe('XCLIENT attributes (Postfix XCLIENT_README)', () => {
  it('reads every attribute, IPV6: addresses, [UNAVAILABLE] and [TEMPUNAVAIL] in any case', () => {
    expect(
      parseXclient(
        attributes(
          'XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 PORT=25123 PROTO=esmtp HELO=spike.porcupine.org LOGIN=wietse+40porcupine.org DESTADDR=IPV6:2001:DB8::25 DESTPORT=587',
        ),
      ),
    ).toEqual({
      name: 'spike.porcupine.org',
      address: '168.100.189.2',
      port: 25123,
      protocol: 'ESMTP',
      helo: 'spike.porcupine.org',
      login: 'wietse@porcupine.org',
      destinationAddress: '2001:db8::25',
      destinationPort: 587,
    });
    expect(
      parseXclient(attributes('XCLIENT NAME=[tempunavail] ADDR=[Unavailable] PORT=[UNAVAILABLE]')),
    ).toEqual({
      name: '[TEMPUNAVAIL]',
      address: null,
      port: null,
    });
  });

  it('refuses unknown attributes and malformed values with 501 5.5.4', () => {
    expect(refusal(() => parseXclient(attributes('XCLIENT IDENT=x')))).toBe(
      '501 5.5.4 Bad XCLIENT attribute name: IDENT',
    );
    for (const [line, attribute] of [
      ['XCLIENT ADDR=999.1.1.1', 'ADDR'],
      ['XCLIENT ADDR=2001:db8::1', 'ADDR'],
      ['XCLIENT ADDR=IPV6:2001:db8::g', 'ADDR'],
      ['XCLIENT PORT=65536', 'PORT'],
      ['XCLIENT PROTO=LMTP', 'PROTO'],
      ['XCLIENT NAME=bad..name', 'NAME'],
      ['XCLIENT NAME=[TEMP]', 'NAME'],
      // A HELO name that would open a comment in the Received header.
      ['XCLIENT HELO=a(b)', 'HELO'],
      ['XCLIENT LOGIN=a+0Ab', 'LOGIN'],
    ]) {
      expect(
        refusal(() => parseXclient(attributes(line!))),
        line,
      ).toBe(`501 5.5.4 Bad ${attribute} syntax`);
    }
  });
});

describe('XFORWARD attributes (Postfix XFORWARD_README)', () => {
  it('overwrites the attributes named, erases [UNAVAILABLE] ones, and keeps the rest', () => {
    const first = applyXforward(
      {},
      attributes(
        'XFORWARD NAME=spike.porcupine.org ADDR=IPV6:2001:db8::1 PORT=1234 PROTO=ESMTP SOURCE=remote',
      ),
    );
    expect(first).toEqual({
      name: 'spike.porcupine.org',
      address: '2001:db8::1',
      port: 1234,
      protocol: 'ESMTP',
      source: 'REMOTE',
    });
    expect(applyXforward(first, attributes('XFORWARD HELO=spike IDENT=4Zx1 NAME=[UNAVAILABLE]'))).toEqual({
      address: '2001:db8::1',
      port: 1234,
      protocol: 'ESMTP',
      source: 'REMOTE',
      helo: 'spike',
      ident: '4Zx1',
    });
  });

  it('refuses unknown attributes and malformed values with 501 5.5.4', () => {
    expect(refusal(() => applyXforward({}, attributes('XFORWARD LOGIN=x')))).toBe(
      '501 5.5.4 Bad XFORWARD attribute name: LOGIN',
    );
    expect(refusal(() => applyXforward({}, attributes('XFORWARD SOURCE=elsewhere')))).toBe(
      '501 5.5.4 Bad SOURCE syntax',
    );
    expect(refusal(() => applyXforward({}, attributes(`XFORWARD PROTO=${'P'.repeat(65)}`)))).toBe(
      '501 5.5.4 Bad PROTO syntax',
    );
    expect(refusal(() => applyXforward({}, attributes('XFORWARD HELO=<x>')))).toBe(
      '501 5.5.4 Bad HELO syntax',
    );
  });
});

describe('SmtpServerSession: XCLIENT', () => {
  it('is offered to allowed clients only; others get 550 5.7.0', () => {
    const stranger = new Driver();
    expect(stranger.send('EHLO c\r\n')).not.toContain('XCLIENT');
    expect(stranger.send('XCLIENT ADDR=192.0.2.1\r\n')).toBe('550 5.7.0 Insufficient authorization\r\n');
    expect(stranger.session.xclient).toBeUndefined();
    const proxy = new Driver({ xclient: true });
    expect(proxy.send('EHLO proxy\r\n')).toContain(
      '250 XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT\r\n',
    );
  });

  it('greets afresh and starts over, and the Received header names the client XCLIENT gave', () => {
    const driver = new Driver({ xclient: true, receivedHeader: true, remoteAddress: '10.0.0.5' });
    driver.send('EHLO proxy.test\r\n');
    expect(driver.send('XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 HELO=spike PROTO=SMTP\r\n')).toBe(
      PROXY_GREETING,
    );
    expect(driver.send('MAIL FROM:<a@b.test>\r\n')).toBe('503 5.5.1 Send HELO/EHLO first\r\n');
    driver.send('EHLO proxy.test\r\n');
    expect(driver.session.clientName).toBe('spike');
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    expect(driver.messages[0]).toMatch(
      /^Received: from spike \(spike\.porcupine\.org \[168\.100\.189\.2\]\)\r\n\tby mx\.test \(Postwire\) with SMTP id /,
    );
  });

  it('keeps TLS, drops an earlier AUTH, and takes LOGIN as the authenticated user', () => {
    const driver = new Driver(
      { xclient: true, requireAuth: true, authMechanisms: () => ['PLAIN'] },
      {},
      () => ({
        type: 'success',
        username: 'proxy',
      }),
    );
    driver.session.markSecure();
    driver.send('EHLO proxy\r\n');
    driver.send('AUTH PLAIN AHByb3h5AHB3\r\n');
    expect(driver.session.user).toBe('proxy');
    driver.send('XCLIENT ADDR=192.0.2.9\r\n');
    expect(driver.session.user).toBeUndefined();
    expect(driver.session.secure).toBe(true);
    driver.send('XCLIENT LOGIN=alice\r\n');
    driver.send('EHLO proxy\r\n');
    expect(driver.session.user).toBe('alice');
    expect(driver.send('MAIL FROM:<alice@b.test>\r\n')).toBe('250 2.1.0 Sender OK\r\n');
    expect(driver.session.xclient).toEqual({ address: '192.0.2.9', login: 'alice' });
  });

  it('asks the connect decision again, for the client XCLIENT named', () => {
    let connects = 0;
    const driver = new Driver(
      { xclient: true, connectDecision: true },
      {
        connect: () =>
          ++connects === 2 ? { code: 554, enhancedCode: '5.7.1', lines: ['Blocked'] } : undefined,
      },
    );
    driver.send('EHLO proxy\r\n');
    expect(driver.send('XCLIENT ADDR=203.0.113.66\r\n')).toBe('554 5.7.1 Blocked\r\n');
    expect(driver.closed).toBe(true);
    expect(driver.session.xclient).toEqual({ address: '203.0.113.66' });
    expect(driver.decisions.filter((event) => event.type === 'connect')).toHaveLength(2);
  });

  it('is refused in a transaction (503 5.5.1) and for bad attributes (501 5.5.4), changing nothing', () => {
    const driver = new Driver({ xclient: true });
    driver.send('EHLO proxy\r\n');
    expect(driver.send('XCLIENT FOO=1\r\n')).toBe('501 5.5.4 Bad XCLIENT attribute name: FOO\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    expect(driver.send('XCLIENT ADDR=192.0.2.1\r\n')).toBe('503 5.5.1 Mail transaction in progress\r\n');
    expect(driver.session.xclient).toBeUndefined();
    expect(driver.send('RCPT TO:<c@d.test>\r\n')).toBe('250 2.1.5 Recipient OK\r\n');
  });
});

describe('SmtpServerSession: XFORWARD', () => {
  it('is offered to allowed clients only; others get 550 5.7.0', () => {
    const stranger = new Driver();
    expect(stranger.send('EHLO c\r\n')).not.toContain('XFORWARD');
    expect(stranger.send('XFORWARD ADDR=192.0.2.1\r\n')).toBe('550 5.7.0 Insufficient authorization\r\n');
    const filter = new Driver({ xforward: true });
    expect(filter.send('EHLO filter\r\n')).toContain(
      '250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n',
    );
  });

  it('applies to the next transaction only, in its envelope, and is gone after it', () => {
    const driver = new Driver({ xforward: true });
    driver.send('EHLO filter\r\n');
    expect(driver.send('XFORWARD NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP\r\n')).toBe(
      '250 2.0.0 OK\r\n',
    );
    expect(driver.send('XFORWARD HELO=spike.porcupine.org\r\n')).toBe('250 2.0.0 OK\r\n');
    driver.send('MAIL FROM:<a@b.test>\r\n');
    expect(driver.send('XFORWARD IDENT=x\r\n')).toBe('503 5.5.1 Mail transaction in progress\r\n');
    driver.send('RCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('x\r\n.\r\n');
    const ends = () =>
      driver.decisions.filter((event) => event.type === 'message-end') as { envelope: SmtpEnvelope }[];
    expect(ends()[0]!.envelope.forwarded).toEqual({
      name: 'spike.porcupine.org',
      address: '168.100.189.2',
      protocol: 'ESMTP',
      helo: 'spike.porcupine.org',
    });
    expect(driver.session.forwarded).toBeUndefined();
    driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('x\r\n.\r\n');
    expect(ends()[1]!.envelope.forwarded).toBeUndefined();
  });

  it('is dropped by RSET', () => {
    const driver = new Driver({ xforward: true });
    driver.send('EHLO filter\r\n');
    driver.send('XFORWARD ADDR=192.0.2.1\r\n');
    expect(driver.session.forwarded).toEqual({ address: '192.0.2.1' });
    driver.send('RSET\r\n');
    expect(driver.session.forwarded).toBeUndefined();
  });
});
