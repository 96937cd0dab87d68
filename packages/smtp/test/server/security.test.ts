import { describe, expect, it } from 'vitest';
import type { SmtpServerEvent } from '../../src/server/session.js';
import { Driver } from './driver.js';

/** A bare CR or a bare LF anywhere. */
const STRAY = /\r(?!\n)|(?<!\r)\n/;

function transaction(bareLineEndings: 'reject' | 'normalize'): Driver {
  const driver = new Driver({ bareLineEndings });
  driver.send('EHLO c\r\n');
  driver.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
  return driver;
}

describe('SmtpServerSession: the security catalogue, server side', () => {
  for (const stray of ['\r', '\n', '\r.\r\n', '\r\n.\r\r\n', '\r\r\n.\r\r\n']) {
    it(`case 4: ${JSON.stringify(stray)} in DATA reaches the application as CRLF only, or refuses the message`, () => {
      const lenient = transaction('normalize');
      expect(lenient.send(`Subject: x\r\n\r\none${stray}two\r\n.\r\n`)).toBe(
        '250 2.0.0 Message accepted\r\n',
      );
      expect(lenient.messages).toHaveLength(1);
      expect(lenient.messages[0]).not.toMatch(STRAY);
      expect(lenient.messages[0]).toMatch(/^Subject: x\r\n\r\none[\s\S]*two\r\n$/);
      const strict = transaction('reject');
      expect(strict.send(`Subject: x\r\n\r\none${stray}two\r\n.\r\n`)).toBe(
        '550 5.5.2 Bare CR or LF in message text\r\n',
      );
      expect(strict.messages).toEqual([]);
    });
  }

  it('case 3: a QUIT alone may come with the end of a message (Postfix sends it so); anything else may not', () => {
    const quitting = transaction('reject');
    expect(quitting.send('Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n')).toBe(
      '250 2.0.0 Message accepted\r\n221 2.0.0 mx.test Bye\r\n',
    );
    expect(quitting.messages).toHaveLength(1);
    expect(quitting.closed).toBe(true);
    const oversized = new Driver({ limits: { messageSize: 4 } });
    oversized.send('EHLO c\r\n');
    oversized.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    expect(oversized.send('too long\r\n.\r\nquit\r\n')).toBe(
      '552 5.3.4 Message size exceeds fixed limit\r\n221 2.0.0 mx.test Bye\r\n',
    );
    for (const behind of ['QUIT\r\nMAIL FROM:<s@x.test>\r\n', 'NOOP\r\n', 'QUIT', 'QUIT now\r\n']) {
      const driver = transaction('reject');
      expect(driver.send(`Subject: x\r\n\r\nbody\r\n.\r\n${behind}`), behind).toBe(
        '554 5.5.0 Error: SMTP protocol synchronization\r\n',
      );
      expect(driver.messages).toEqual([]);
      expect(driver.closed).toBe(true);
    }
  });

  it('case 31: a quoted ">" and a parameter inside a recipient stay one address, and no ORCPT appears', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    driver.send('MAIL FROM:<"x> RET=FULL"@b.test>\r\n');
    expect(driver.send('RCPT TO:<"foo@psres.net> ORCPT=admin@admin.com"@test.com>\r\n')).toBe(
      '250 2.1.5 Recipient OK\r\n',
    );
    const mail = driver.decisions.find((event) => event.type === 'mail') as Extract<
      SmtpServerEvent,
      { type: 'mail' }
    >;
    expect(mail.from?.localPart).toBe('x> RET=FULL');
    expect(mail.parameters.ret).toBeUndefined();
    const rcpt = driver.decisions.find((event) => event.type === 'rcpt') as Extract<
      SmtpServerEvent,
      { type: 'rcpt' }
    >;
    expect(rcpt.to.localPart).toBe('foo@psres.net> ORCPT=admin@admin.com');
    expect(rcpt.to.domain).toBe('test.com');
    expect(rcpt.parameters.orcpt).toBeUndefined();
  });

  it('case 31: an application reply that would carry CR or LF is refused before a byte is written', () => {
    const driver = new Driver({}, { helo: () => ({ code: 250, lines: ['ok\r\n250 forged'] }) });
    const before = driver.output;
    expect(() => driver.send('EHLO c\r\n')).toThrow(/printable US-ASCII/);
    expect(driver.output).toBe(before);
  });
});
