import { describe, expect, it } from 'vitest';
import type { SmtpEnvelope } from '../../src/server/session.js';
import { Driver } from './driver.js';

describe('SmtpServerSession: REQUIRETLS (RFC 8689)', () => {
  it('is announced on TLS only: after STARTTLS, or on implicit TLS', () => {
    const driver = new Driver({ startTls: true });
    expect(driver.send('EHLO c\r\n')).not.toContain('REQUIRETLS');
    driver.send('STARTTLS\r\n');
    expect(driver.send('EHLO c\r\n')).toMatch(/^250[- ]REQUIRETLS\r$/m);
    const implicit = new Driver();
    implicit.session.markSecure();
    expect(implicit.send('EHLO c\r\n')).toMatch(/^250[- ]REQUIRETLS\r$/m);
  });

  it('refuses MAIL … REQUIRETLS outside TLS with 530 5.7.10', () => {
    const driver = new Driver();
    driver.send('EHLO c\r\n');
    expect(driver.send('MAIL FROM:<a@b.test> REQUIRETLS\r\n')).toBe(
      '530 5.7.10 REQUIRETLS needs a TLS session\r\n',
    );
    expect(driver.decisions.map((event) => event.type)).toEqual(['helo']);
  });

  it('takes MAIL … REQUIRETLS on TLS and hands it on in the MAIL decision and the envelope', () => {
    const driver = new Driver();
    driver.session.markSecure();
    driver.send('EHLO c\r\n');
    expect(driver.send('MAIL FROM:<a@b.test> REQUIRETLS\r\n')).toBe('250 2.1.0 Sender OK\r\n');
    driver.send('RCPT TO:<c@d.test>\r\nDATA\r\n');
    driver.send('Subject: x\r\n\r\nsecret\r\n.\r\n');
    const mail = driver.decisions.find((event) => event.type === 'mail');
    expect(mail).toMatchObject({ parameters: { requireTls: true } });
    const end = driver.decisions.find((event) => event.type === 'message-end') as { envelope: SmtpEnvelope };
    expect(end.envelope.mailParameters.requireTls).toBe(true);
  });

  it('can be turned off: then neither announced nor accepted (555 5.5.4)', () => {
    const driver = new Driver({ requireTls: false });
    driver.session.markSecure();
    expect(driver.send('EHLO c\r\n')).not.toContain('REQUIRETLS');
    expect(driver.send('MAIL FROM:<a@b.test> REQUIRETLS\r\n')).toBe('555 5.5.4 REQUIRETLS not offered\r\n');
  });
});
